"""``mdsd``: run the daemon, a demo of it, or its maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mds.wire.moments import iso_epoch
from mds.wire.paths import default_config_path
from mdsd import __version__
from mdsd.api.settings import ListenAddress
from mdsd.api.tokens import Scope, TokenError, TokenFolder
from mdsd.base.datalock import DataDirLock
from mdsd.base.logs import LOG_LEVELS, configure_logging
from mdsd.base.memory import limit_arenas
from mdsd.base.private import PRIVATE_UMASK, check_private_dir, make_private
from mdsd.config import Config, ConfigError, load_config, parse_config

if TYPE_CHECKING:
    import socket

    import uvicorn
    from starlette.applications import Starlette

    from mdsd import backup
    from mdsd.daemon import Daemon

log = logging.getLogger("mdsd")

#: how long a thread holds the interpreter lock while another waits for it
READ_SWITCH_SECONDS = 0.001

EPILOG = """\
examples:
  mdsd                                        run the daemon in the foreground
  mdsd demo                                   a simulated ML platform, a living graph
  mdsd replica --config PATH --from-backup DIR  a read-only replica of a primary
  mdsd reindex                                rebuild the search index from the facts
  mdsd check-config --config PATH             validate a config file and exit
  mdsd token create alice --scope read        a token for the TCP listener, shown once
  mdsd token list                             the tokens: name, scope, created, last used
  mdsd token revoke alice                     refused from the next request on

config: --config PATH, else $MDS_CONFIG, else $XDG_CONFIG_HOME/mds/config.toml
(~/.config/mds/config.toml), else the defaults (said on stderr); every command takes
--config after its name too. Data lives in $XDG_DATA_HOME/mds (~/.local/share/mds)
unless [daemon] data_dir says otherwise.

exit status:
  0  stopped cleanly (SIGINT/SIGTERM), the config is valid, or the token command was done
  1  could not run: the data dir is held by another mdsd, another user can write to
     the data dir or socket dir, a path cannot be created, TLS files cannot be used, or
     a token command cannot be done (no such token, a name taken, a token file open to
     other users)
  2  bad usage or a bad config (the message names the key and the file)

The daemon serves its API on a Unix socket, and with [api] listen on TCP too, every
request with a token (see `mds --help` and docs/api.md).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdsd",
        description="The mds daemon: ingests change events, hydrates entities from their "
        "sources, keeps the lifecycle graph as immutable facts and serves queries.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mdsd {__version__}")
    parser.add_argument("--config", metavar="PATH", help="TOML config (see config.example.toml)")
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=None,
        help="debug, info, warning or error (default: [daemon] log_level, else info)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon in the foreground (the default)")
    run.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")
    reindex = commands.add_parser(
        "reindex", help="rebuild the search index from the facts (stop the daemon first)"
    )
    reindex.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")
    replica = commands.add_parser(
        "replica",
        help="run a read-only replica following a primary's [replication] topic",
        description="Serves every read as the primary does, applying its transactions from "
        "the Kafka topic of the config's [replica] table in order; refuses writes, naming "
        "the primary (docs/replication.md).",
    )
    replica.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")
    replica.add_argument(
        "--from-backup",
        metavar="DIR",
        help="start from this backup of the primary (mdsd backup) when the data dir holds "
        "no facts yet, instead of reading the topic from its start",
    )
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")
    _token_parsers(commands)
    _backup_parsers(commands)
    demo = commands.add_parser(
        "demo",
        help="run against the built-in simulator of the reference platform",
        description="Starts the reference-platform simulator over a generated organisation "
        "and the daemon on it, with a living stream of changes.",
    )
    from mdsd.demo import add_demo_arguments

    add_demo_arguments(demo)
    return parser


def _token_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "token",
        help="make, list and revoke the tokens of the TCP listener ([api] listen)",
        description="Tokens for requests over TCP. They are kept in the data dir as keyed "
        "hashes, and count at once, whether or not the daemon runs.",
    )
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a token and print it, once")
    create.set_defaults(token_action=_token_create)
    create.add_argument("name", help="what list and revoke call it (e.g. who holds it)")
    create.add_argument(
        "--scope",
        required=True,
        choices=[scope.label for scope in Scope],
        help="read: every read; write: also feeds events; admin: also reconciles and redrives",
    )
    listing = actions.add_parser("list", help="the tokens: name, scope, created, last used")
    listing.add_argument("--json", action="store_true", help="as JSON lines")
    listing.set_defaults(token_action=_token_list)
    revoke = actions.add_parser("revoke", help="remove a token: refused from its next request")
    revoke.add_argument("name")
    revoke.set_defaults(token_action=_token_revoke)
    for action in (create, listing, revoke):
        action.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")


def _backup_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="write a consistent copy of the data dir into a new directory",
        description="Taken by the running daemon, which goes on meanwhile, or from the data "
        "dir itself when no daemon runs. The backup holds the daemon's tokens: keep it as "
        "private as the data dir.",
    )
    backup.add_argument("dir", help="a new or empty directory")
    restore = commands.add_parser(
        "restore",
        help="check a backup, then make it the data dir (stop the daemon first)",
        description="Refuses a data dir that holds a fact log, unless --replace, which "
        "moves it aside (kept as DATA_DIR.before-restore-TIME).",
    )
    restore.add_argument("dir", help="a directory written by mdsd backup")
    restore.add_argument("--replace", action="store_true", help="move the data dir aside first")
    verify = commands.add_parser(
        "verify-backup", help="check a backup whole (files, fact log, journal); changes nothing"
    )
    verify.add_argument("dir", help="a directory written by mdsd backup")
    for command in (backup, restore, verify):
        command.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")


def _backup_command(args: argparse.Namespace, config: Config) -> int:
    """``mdsd backup|restore|verify-backup``: what each did, in one line."""
    from mdsd.backup import BackupError

    try:
        return _backup_step(args, config)
    except BackupError as exc:
        print(f"mdsd: {exc}", file=sys.stderr)
        return 1


def _backup_step(args: argparse.Namespace, config: Config) -> int:
    from mdsd import backup

    folder = Path(args.dir).expanduser().resolve()
    if args.command == "verify-backup":
        manifest = backup.verify(folder)
        print(f"{folder}: ok, {_held(manifest)}")
        return 0
    if args.command == "restore":
        make_private(config.data_dir)
        with DataDirLock(config.data_dir):
            manifest, moved = backup.restore(folder, config.data_dir, replace=args.replace)
        aside = f"; the data dir before it is kept in {moved}" if moved else ""
        print(f"restored {_held(manifest)} into {config.data_dir}{aside}")
        return 0
    lock = DataDirLock(config.data_dir)
    try:
        lock.acquire()
    except RuntimeError:  # a daemon holds the data dir: it takes the backup itself
        answer = _ask_daemon(config, "/v1/backup", {"dir": str(folder)})
        manifest = backup.Manifest.read(Path(answer["dir"]))
    else:
        try:
            manifest = asyncio.run(_backup_stopped(config, folder))
        finally:
            lock.release()
    print(f"backup of {_held(manifest)} written to {folder}")
    return 0


def _held(manifest: backup.Manifest) -> str:
    size = sum(n for n, _ in manifest.files.values())
    return (
        f"transaction {manifest.last_tx} ({len(manifest.files)} files, {size / 1e6:.1f} MB, "
        f"taken {iso_epoch(manifest.made_at)})"
    )


async def _backup_stopped(config: Config, folder: Path) -> backup.Manifest:
    """A backup of a data dir no daemon runs on: its stores, opened for it alone."""
    from mdsd import backup
    from mdsd.api.tokens import AUTH_DIR
    from mdsd.daemon import state_files
    from mdsd.index.search import SearchIndex
    from mdsd.intake.journal import Journal
    from store import FactStore

    data = config.data_dir
    with FactStore(data / "facts") as store:
        journal = await Journal.open(data / "journal.sqlite3")
        indexes = {name: SearchIndex(data / name) for name in backup.INDEXES}
        try:
            parts = backup.BackupParts(
                store,
                journal.backup,
                indexes,
                asyncio.Lock(),
                data / AUTH_DIR,
                state_files=state_files(data),
            )
            return await backup.take(parts, folder)
        finally:
            await journal.close()
            for index in indexes.values():
                index.close()


def _ask_daemon(config: Config, path: str, body: dict[str, object]) -> dict[str, Any]:
    """POST ``body`` to the daemon on its socket; its answer, or ``RuntimeError`` with its
    message."""
    import httpx

    transport = httpx.HTTPTransport(uds=str(config.socket_path))
    with httpx.Client(transport=transport, base_url="http://mdsd", timeout=3600) as http:
        try:
            answer = http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise RuntimeError(
                f"the data dir is locked by a daemon that does not answer on "
                f"{config.socket_path}: {exc}"
            ) from exc
    payload: dict[str, Any] = answer.json()
    if answer.status_code != 200:
        raise RuntimeError(str(payload.get("error", {}).get("message", payload)))
    return payload


def _config(args: argparse.Namespace) -> tuple[Config, str]:
    """The config ``args`` name, else ``$MDS_CONFIG``, else the user's, else the defaults
    (said on stderr); with where it came from."""
    path = getattr(args, "sub_config", None) or args.config or os.environ.get("MDS_CONFIG")
    if path:
        return load_config(path), path
    found = default_config_path()
    if found.exists():
        return load_config(found), str(found)
    config = parse_config("", "(defaults)")
    print(
        f"mdsd: no config file (no --config, MDS_CONFIG is not set, {found} does not exist): "
        f"running on the defaults, data in {config.data_dir} (see config.example.toml)",
        file=sys.stderr,
    )
    return config, "(defaults)"


def _token_command(args: argparse.Namespace, config: Config) -> int:
    """``mdsd token ACTION``: only the token files change, so a running daemon may hold
    the data dir meanwhile."""
    os.umask(PRIVATE_UMASK)
    data = config.data_dir
    if data.exists():
        check_private_dir(data, "data dir")
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    args.token_action(args, TokenFolder(data))
    return 0


def _token_create(args: argparse.Namespace, folder: TokenFolder) -> None:
    print(folder.create(args.name, Scope.named(args.scope)))
    print(
        f"mdsd: token {args.name!r} ({args.scope}) made for the daemon whose data dir is "
        f"{folder.path.parent} (a daemon of another config will refuse it): it is shown only "
        "now; keep it in a file of mode 0600 (mds --token-file F) or MDS_TOKEN",
        file=sys.stderr,
    )


def _token_revoke(args: argparse.Namespace, folder: TokenFolder) -> None:
    if not folder.revoke(args.name):
        raise TokenError(f"no token named {args.name!r} (see `mdsd token list`)")
    print(f"mdsd: token {args.name!r} revoked", file=sys.stderr)


def _token_list(args: argparse.Namespace, folder: TokenFolder) -> None:
    used = folder.last_used()
    rows = [
        {
            "name": t.name,
            "scope": t.scope.label,
            "created_at": t.created_at,
            "last_used_at": used.get(t.name),
        }
        for t in folder.tokens()
    ]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    created = max((len(str(row["created_at"])) for row in rows), default=7)
    print(f"{'NAME':<24} {'SCOPE':<6} {'CREATED':<{created}} LAST USED")
    for row in rows:
        print(
            f"{row['name']:<24} {row['scope']:<6} {row['created_at']:<{created}} "
            f"{row['last_used_at'] or '-'}"
        )


def _seed_replica(config: Config, folder: Path) -> None:
    """A new replica's data dir from a backup of its primary: its facts, search indexes
    and tokens; not the primary's journal, whose work the primary does."""
    from mdsd import backup
    from mdsd.daemon import state_files

    if (config.data_dir / backup.FACTS).exists():
        log.info("the data dir holds facts already: --from-backup is not needed, not used")
        return
    manifest, _ = backup.restore(folder.expanduser().resolve(), config.data_dir)
    for name in (backup.JOURNAL, *(f.name for f in state_files(config.data_dir))):
        (config.data_dir / name).unlink(missing_ok=True)
    log.info("replica seeded from %s: %s", folder, _held(manifest))


def node(config: Config, *, replica: bool) -> Daemon:
    """The daemon ``serve`` runs. Only a replica's imports its Kafka client (the kafka
    extra, which a primary without ``[replication]`` does without)."""
    if replica:
        from mdsd.replica import Replica

        return Replica(config)
    from mdsd.daemon import Daemon

    return Daemon(config)


async def serve(config: Config, *, replica: bool = False) -> None:
    """Run the daemon (or, with ``replica``, a replica) on its sockets until SIGINT/SIGTERM."""
    # Reads run on threads beside the event loop (mdsd.reads.cost). CPython hands the
    # interpreter lock between threads every 5 ms by default; at 1 ms, acknowledgements
    # taken while the worst reads ran waited 15 ms at the median instead of 62, and 0.6 s
    # at p99 instead of 1.6 s (bench/read_cost_bench.py).
    sys.setswitchinterval(READ_SWITCH_SECONDS)
    from mdsd.api.rest import create_app
    from mdsd.base.listeners import bind_unix_socket, build_server
    from mdsd.base.storage import wait_for_room

    daemon = node(config, replica=replica)
    app = create_app(daemon.api)
    listeners = [(build_server(app), bind_unix_socket(config.socket_path))]
    log.info("listening on %s", config.socket_path)
    if config.api.listen_address is not None:
        listeners.append(_tcp_listener(config, daemon, app))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    servings = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in listeners]
    try:
        if not await wait_for_room(config.data_dir, stop):
            return  # stopped while its disk was full: nothing was opened
        await daemon.start()
        daemon.freeze()
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, *servings], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        log.info("shutting down")
    finally:
        daemon.begin_shutdown()
        for server, _ in listeners:
            server.should_exit = True
        for serving in servings:
            with contextlib.suppress(Exception):
                await serving
        await daemon.stop()
        config.socket_path.unlink(missing_ok=True)


def _tcp_listener(
    config: Config, daemon: Daemon, app: Starlette
) -> tuple[uvicorn.Server, socket.socket]:
    """The API on ``[api] listen``, behind the token gate; TLS unless it is plain loopback."""
    from mdsd.api.access import AccessGate
    from mdsd.base.listeners import TCP_KEEP_ALIVE_SECONDS, bind_tcp, build_server, check_tls

    api = config.api
    address = api.listen_address
    assert address is not None  # the caller asks only when TCP is on
    if api.tls_files:
        check_tls(*api.tls_files)
    gate = AccessGate(app, daemon.remote)
    sock = bind_tcp(address.host, address.port)
    bound = ListenAddress(*sock.getsockname()[:2])
    daemon.remote.listening = str(bound)
    server = build_server(gate, tls=api.tls_files, keep_alive=TCP_KEEP_ALIVE_SECONDS)
    log.info(
        "listening on %s://%s (a token on every request)", "https" if api.tls else "http", bound
    )
    if not daemon.remote.tokens.current():
        log.warning(
            "no tokens yet: every TCP request is refused until `mdsd token create NAME "
            "--scope read|write|admin` makes one"
        )
    return server, sock


def _reindex(config: Config) -> str:
    from mdsd.index.indexer import Indexer
    from mdsd.index.search import SearchIndex
    from store import FactStore

    data = config.data_dir
    with FactStore(data / "facts") as store:
        main = SearchIndex(data / "search" / "main")
        owners = SearchIndex(data / "search" / "owners")
        try:
            count = Indexer(store, main, owners).rebuild()
        finally:
            main.close()
            owners.close()
    return f"indexed {count} entities"


def _check_role(command: str | None, config: Config, origin: str) -> None:
    """A replica's config runs only as ``mdsd replica``, and that only with one."""
    if command == "replica" and config.replica is None:
        raise ConfigError(
            f"{origin}: mdsd replica needs a [replica] table: the primary's topic and where "
            "its brokers are (docs/replication.md)"
        )
    if command in (None, "run") and config.replica is not None:
        raise ConfigError(
            f"{origin}: this config has a [replica] table: run it with "
            f"`mdsd replica --config {origin}`"
        )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from mdsd.demo import run_demo

            configure_logging(args.log_level or "info")
            return run_demo(args, serve)
        config, origin = _config(args)
        configure_logging(args.log_level or config.daemon.log_level)
        if args.command == "check-config":
            from mdsd.base.listeners import check_tls

            if config.api.tls_files:
                check_tls(*config.api.tls_files)
            print(f"{origin}: ok")
            return 0
        if args.command == "token":
            return _token_command(args, config)
        if args.command in ("backup", "restore", "verify-backup"):
            return _backup_command(args, config)
        _check_role(args.command, config, origin)
        make_private(config.data_dir)  # before the lock file is its first file
        limit_arenas()  # before the daemon starts a thread
        with DataDirLock(config.data_dir):
            if args.command == "reindex":
                print(_reindex(config))
            elif args.command == "replica":
                if args.from_backup:
                    _seed_replica(config, Path(args.from_backup))
                asyncio.run(serve(config, replica=True))
            else:
                asyncio.run(serve(config))
        return 0
    except ConfigError as exc:
        print(f"mdsd: {exc}", file=sys.stderr)
        return 2
    except TokenError as exc:
        print(f"mdsd: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"mdsd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a data dir or socket that cannot be made: say which, not a trace
        where = f": {exc.filename}" if exc.filename else ""
        print(f"mdsd: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
