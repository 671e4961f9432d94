"""``mdsd demo``: the daemon on the built-in simulator of the reference platform.

One command for a newcomer: a generated organisation served over HTTP, its events flowing
into a real daemon on a real socket, and the world changing every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from mdsd.base.private import make_private
from mdsd.config import Config, DaemonConfig, EnrichmentConfig, ReconcileConfig
from mdsd.connectors.openlineage.settings import OpenLineageConfig
from mdsd.connectors.policy import SourcePolicy

log = logging.getLogger(__name__)

#: runs the daemon on a config until it is told to stop: ``mdsd.__main__.serve``, passed in
#: by the ``mdsd`` command so that this module does not import the command that imports it
Serve = Callable[[Config], Awaitable[None]]


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mdsd demo``, on the subcommand's parser."""
    parser.add_argument(
        "--size", type=int, default=3000, help="entities in the world (default 3000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="world generator seed (default 1)")
    parser.add_argument(
        "--rate",
        type=float,
        default=2.0,
        help="changes per second once loaded (default 2; 0 = still)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the daemon's data here (default: a temp dir, removed on exit)",
    )
    parser.add_argument(
        "--socket", type=Path, default=None, help="socket path (default: as for mdsd)"
    )
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="turn on the simulator's failures: 5xx, 429s, dropped and duplicated events",
    )


def demo_config(base_url: str, data_dir: Path, socket: Path | None) -> Config:
    """A config whose six sources all point at the simulator, with demo-friendly limits,
    and the simulator's warehouse namespace mapped to its datasets source, so its
    OpenLineage runs join the rest of its graph."""
    from simulator.lineage import NAMESPACES

    sources = {
        key: SourcePolicy(base_url=base_url, concurrency=16, rate_per_second=2000.0, burst=200)
        for key in (
            "registry",
            "orchestrator",
            "featurestore",
            "experiments",
            "datasets",
            "identity",
        )
    }
    return Config(
        daemon=DaemonConfig(data_dir=str(data_dir), socket=str(socket) if socket else ""),
        sources=sources,
        enrichment=EnrichmentConfig(interval_seconds=5.0, retry_seconds=2.0),
        reconcile=ReconcileConfig(interval_seconds=300.0, on_start=False),
        openlineage=OpenLineageConfig(namespaces=dict(NAMESPACES)),
    )


async def run(args: argparse.Namespace, serve: Serve) -> None:
    """The simulator, then the daemon on it until a signal; the data dir goes unless kept."""
    from simulator.chaos import Chaos
    from simulator.emitter import SocketSink
    from simulator.runner import run_simulator
    from simulator.world import World

    owned_dir = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="mds-demo-")) if owned_dir else args.data_dir
    try:
        log.info("generating a world of %d entities (seed %d)", args.size, args.seed)
        world = World.generate(size=args.size, seed=args.seed)
        chaos = (
            Chaos(fail_5xx=0.05, rate_limit_429=0.02, drop=0.02, duplicate=0.05, reorder=0.1)
            if args.chaos
            else Chaos()
        )
        probe = demo_config("http://127.0.0.1:1", data_dir, args.socket)
        sink = SocketSink(probe.socket_path)
        async with run_simulator(world, chaos=chaos, sink=sink, rate=args.rate) as simulator:
            config = demo_config(simulator.base_url, data_dir, args.socket)
            make_private(config.data_dir)
            log.info("simulator at %s; daemon socket %s", simulator.base_url, config.socket_path)
            print(
                f"mds demo: socket {config.socket_path}; in another terminal:\n"
                f"  export MDS_SOCKET={config.socket_path}\n"
                "  mds status; mds search '*' --type model",
                flush=True,
            )
            await serve(config)
    finally:
        if owned_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def run_demo(args: argparse.Namespace, serve: Serve) -> int:
    """``mdsd demo``: serve the demo until SIGINT/SIGTERM; the exit status."""
    asyncio.run(run(args, serve))
    return 0
