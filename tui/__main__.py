"""``mds-tui [--server URL] [--token-file FILE] [--cacert FILE] [--context NAME]
[--socket PATH] [--as-of WHEN] [--known-at WHEN] [--keymap PATH] [--demo]``: the daemon is
chosen as ``mds`` chooses it (``mds.target``)."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from mds.target import Target, TargetError, of_options
from mds.wire.moments import AS_OF_HELP, KNOWN_AT_HELP, VALID_TIME_HELP, axes_of
from tui.asof import normalize_as_of
from tui.keymap import KeymapError, default_keymap_path, load_keymap


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mds-tui",
        description="Keyboard-driven explorer of the ML lifecycle graph served by mdsd.",
        epilog="Press ? inside for the keys, : for commands, ctrl+p for the palette.",
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help="a team's daemon, https://HOST:PORT (default: $MDS_SERVER, else the current "
        "context of `mds context use`, else the local socket)",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="the token for --server, in a file only you may read (default: $MDS_TOKEN)",
    )
    parser.add_argument(
        "--cacert",
        metavar="FILE",
        help="the CA that signed the server's certificate (default: $MDS_CACERT)",
    )
    parser.add_argument("--context", metavar="NAME", help="the daemon of context NAME")
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="daemon socket (default: $MDS_SOCKET, else the mdsd default)",
    )
    parser.add_argument(
        "--as-of",
        dest="as_of",
        metavar="WHEN",
        help=f"start in time travel at WHEN ({VALID_TIME_HELP}): {AS_OF_HELP}",
    )
    parser.add_argument(
        "--known-at",
        dest="known_at",
        metavar="WHEN",
        help=f"start as mds knew the graph at WHEN ({KNOWN_AT_HELP}): the same forms",
    )
    parser.add_argument(
        "--keymap",
        metavar="PATH",
        help=f"keymap TOML file (default: {default_keymap_path()} if present)",
    )
    parser.add_argument(
        "--me",
        metavar="OWNER",
        help="who you are, as search's owner: filter takes it (alice, an email, a user id; "
        "$MDS_ME): the first screen counts your assets and :mine lists them",
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme (Textual's: textual-dark, nord, gruvbox, solarized-light, ...; "
        "$MDS_THEME; :theme lists them)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="if no daemon answers, start `mdsd demo` on the local socket and stop it on exit",
    )
    return parser


def _target(args: argparse.Namespace) -> Target:
    """The daemon to explore; ``--demo`` starts one on the local socket, so not with a
    remote one."""
    target = of_options(args)
    if args.demo and target.server is not None:
        raise TargetError(f"--demo starts a local daemon; the target is {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        keymap = load_keymap(args.keymap)
        as_of = normalize_as_of(args.as_of)
        known_at = normalize_as_of(args.known_at, "known_at")
        axes_of(as_of, known_at)
        target = _target(args)
    except (KeymapError, ValueError, TargetError) as exc:
        print(f"mds-tui: {exc}", file=sys.stderr)
        return 2

    from mds.client import Client
    from tui.app import MdsApp
    from tui.demo import DemoDaemon, DemoError

    demo = DemoDaemon(target.socket) if target.socket is not None and args.demo else None
    try:
        if demo is not None:
            print(f"mds-tui: starting `mdsd demo` on {target.socket} …", file=sys.stderr)
            try:
                demo.ensure()
            except DemoError as exc:
                print(f"mds-tui: {exc}", file=sys.stderr)
                return 1
        app = MdsApp(
            client_factory=lambda: Client(target=target),
            as_of=as_of,
            known_at=known_at,
            keymap=keymap,
            theme=args.theme or os.environ.get("MDS_THEME"),
            me=args.me or os.environ.get("MDS_ME"),
        )
        # The modules imported so far live as long as the process: frozen, the collector's
        # full passes (every few page visits) stop walking them, 20-35 ms instead of 55-75.
        gc.collect()
        gc.freeze()
        app.run()
    finally:
        if demo is not None:
            demo.stop()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
