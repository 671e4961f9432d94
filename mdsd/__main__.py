"""``mdsd``: run the daemon, a demo of it, or its maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys

from mdsd import __version__
from mdsd.base.datalock import DataDirLock
from mdsd.base.logs import LOG_LEVELS, configure_logging
from mdsd.base.private import make_private
from mdsd.config import Config, ConfigError, load_config

log = logging.getLogger("mdsd")

#: how long a thread holds the interpreter lock while another waits for it
READ_SWITCH_SECONDS = 0.001

EPILOG = """\
examples:
  mdsd --config ~/.config/mds/config.toml     run the daemon in the foreground
  mdsd demo                                   a simulated ML platform, a living graph
  mdsd reindex --config PATH                  rebuild the search index from the facts
  mdsd check-config --config PATH             validate a config file and exit

exit status:
  0  stopped cleanly (SIGINT/SIGTERM), or the config is valid
  1  could not run: the data dir is held by another mdsd, another user can write to
     the data dir or socket dir, or a path cannot be created
  2  bad usage or a bad config (the message names the key and the file)

The daemon serves its API on a Unix socket (see `mds --help` and docs/api.md).
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
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", metavar="PATH", dest="sub_config", help="TOML config")
    demo = commands.add_parser(
        "demo",
        help="run against the built-in simulator of the reference platform",
        description="Starts the reference-platform simulator over a generated organisation "
        "and the daemon on it, with a living stream of changes.",
    )
    from mdsd.demo import add_demo_arguments

    add_demo_arguments(demo)
    return parser


def _config(args: argparse.Namespace) -> Config:
    path = getattr(args, "sub_config", None) or args.config
    if not path:
        raise ConfigError("--config PATH is required (see config.example.toml)")
    return load_config(path)


async def serve(config: Config) -> None:
    """Run the daemon on its sockets until SIGINT/SIGTERM."""
    # Reads run on threads beside the event loop (mdsd.reads.cost). CPython hands the
    # interpreter lock between threads every 5 ms by default; at 1 ms, acknowledgements
    # taken while the worst reads ran waited 15 ms at the median instead of 62, and 0.6 s
    # at p99 instead of 1.6 s (bench/read_cost_bench.py).
    sys.setswitchinterval(READ_SWITCH_SECONDS)
    from mdsd.api.rest import create_app
    from mdsd.base.listeners import bind_tcp, bind_unix_socket, build_server
    from mdsd.base.storage import wait_for_room
    from mdsd.daemon import Daemon

    daemon = Daemon(config)
    sockets = [bind_unix_socket(config.socket_path)]
    if config.daemon.tcp_port:
        sockets.append(bind_tcp(config.daemon.tcp_port))
    server = build_server(create_app(daemon.api), log_level="warning")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve(sockets=sockets))
    log.info("listening on %s", config.socket_path)
    try:
        if not await wait_for_room(config.data_dir, stop):
            return  # stopped while its disk was full: nothing was opened
        await daemon.start()
        # What start-up built (modules, schema, connectors, caches) lives as long as the
        # process, and is most of what the collector tracks: frozen, full collections stop
        # walking it every few seconds of a backfill.
        gc.collect()
        gc.freeze()
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, serving], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        log.info("shutting down")
    finally:
        daemon.begin_shutdown()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        await daemon.stop()
        config.socket_path.unlink(missing_ok=True)


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


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from mdsd.demo import run_demo

            configure_logging(args.log_level or "info")
            return run_demo(args, serve)
        config = _config(args)
        configure_logging(args.log_level or config.daemon.log_level)
        if args.command == "check-config":
            print(f"{getattr(args, 'sub_config', None) or args.config}: ok")
            return 0
        make_private(config.data_dir)  # before the lock file is its first file
        with DataDirLock(config.data_dir):
            if args.command == "reindex":
                print(_reindex(config))
            else:
                asyncio.run(serve(config))
        return 0
    except ConfigError as exc:
        print(f"mdsd: {exc}", file=sys.stderr)
        return 2
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
