"""Freshness without help: how long the graph stays wrong when events are lost.

    .venv/bin/python bench/freshness_bench.py [--size 2000] [--drop 0.2] [--changes 600]

Two runs against a real daemon with the default settings (the sources' default rate
limits, enrichment every 30 s, reconciliation every ``[reconcile] interval_seconds``):

1. **First pass.** A world loaded with no event lost, then the daemon's first
   reconciliation pass: what it queues (target: nothing, the graph is already correct).
2. **Loss.** The sources' change events go through a bus that drops ``--drop`` of them (not
   OpenLineage runs: see ``LossyBus``), the initial ones included, while ``--changes``
   changes are made at ``--rate`` per second. From the last change on, every ``--every`` seconds the daemon's graph (entities, names, owners,
   tags, declared and inferred edges) is compared with the sources' truth: the report gives
   the differences at each look and the seconds until none is left (target: <= 300).

The peer is the daemon's own promise: ``mds status`` says the staleness bound it keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.e2e.conftest import graph_differences

#: the default enrichment interval (config.example.toml), not the tests' quick one
ENRICHMENT_SECONDS = 30.0


def daemon_for(workdir: Path, simulator: SimulatorThread) -> DaemonProcess:
    return DaemonProcess(
        workdir, simulator.base_url, enrichment_interval=ENRICHMENT_SECONDS, default_limits=True
    )


def first_pass(workdir: Path, size: int, seed: int) -> dict[str, Any]:
    """What the first reconciliation of an already correct graph queues."""
    world = World.generate(size=size, seed=seed)
    with SimulatorThread(world) as simulator:
        daemon = daemon_for(workdir, simulator).start()
        try:
            load(daemon, world.initial_events())
            before = daemon.call("status")["enrichment"]["reconcile"]["passes"]
            asyncio.run(_reconcile(daemon))
            while True:
                reconcile = daemon.call("status")["enrichment"]["reconcile"]
                if reconcile["passes"] > before and not reconcile["running"]:
                    return {"entities": daemon.call("status")["entities"], **reconcile["last"]}
                time.sleep(0.5)
        finally:
            daemon.stop()


def load(daemon: DaemonProcess, events: list[dict[str, Any]]) -> None:
    """Hand the daemon ``events`` and wait until they are in."""
    daemon.call("ingest", "\n".join(json.dumps(e) for e in events).encode())
    assert daemon.call("wait_idle", 1800.0)["idle"], "the initial load did not settle"


async def _reconcile(daemon: DaemonProcess) -> None:
    async with daemon.client() as client:
        await client.reconcile()


def under_loss(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seconds from the last change until the graph equals the sources' truth."""
    world = World.generate(size=args.size, seed=args.seed)
    bus = LossyBus(args.drop, args.seed)
    with SimulatorThread(world) as simulator:
        daemon = daemon_for(workdir, simulator).start()
        try:
            load(daemon, bus.carry(list(world.initial_events())))
            for _ in range(args.changes):
                events = bus.carry(simulator.mutate(1))
                if events:
                    daemon.call("ingest", "\n".join(json.dumps(e) for e in events).encode())
                time.sleep(1.0 / args.rate)
            last_change = time.monotonic()
            looks: list[tuple[float, int]] = []
            converged: float | None = None
            while time.monotonic() - last_change < args.deadline:
                time.sleep(args.every)
                problems = graph_differences(daemon, simulator.truth())
                at = round(time.monotonic() - last_change, 1)
                looks.append((at, len(problems)))
                shown = f": {'; '.join(problems[:4])}" if 0 < len(problems) <= 12 else ""
                print(f"  +{at:6.1f} s: {len(problems)} difference(s){shown}", flush=True)
                if not problems:
                    converged = at
                    break
            reconcile = daemon.call("status")["enrichment"]["reconcile"]
            return {
                "entities": daemon.call("status")["entities"],
                "dropped": bus.dropped,
                "sent": bus.sent,
                "looks": looks,
                "converged_after_seconds": converged,
                "staleness_bound_seconds": reconcile["staleness_bound_seconds"],
                "passes": reconcile["passes"],
            }
        finally:
            daemon.stop()


class LossyBus:
    """Loses a share of the sources' change events on their way, as a bus may. OpenLineage
    run events are not lost: their senders retry until acknowledged, and nothing could
    bring one back (no source lists runs for mds to reconcile against)."""

    def __init__(self, drop: float, seed: int) -> None:
        self.drop = drop
        self._rng = random.Random(seed)
        self.sent = self.dropped = 0

    def carry(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [e for e in events if "eventType" in e or self._rng.random() >= self.drop]
        self.sent += len(kept)
        self.dropped += len(events) - len(kept)
        return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2000, help="world size (default 2000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop", type=float, default=0.2, help="share of events lost (0.2)")
    parser.add_argument("--changes", type=int, default=600, help="changes after the load")
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second (20)")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between looks")
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mds-fresh-") as scratch:
        (Path(scratch) / "first").mkdir()
        (Path(scratch) / "loss").mkdir()
        first = first_pass(Path(scratch) / "first", args.size, args.seed)
        queued = first["queued"]
        verdict = "ok" if queued == 0 else "MISSED"
        print(
            f"first reconciliation of a correct graph of {first['entities']} entities: "
            f"{first['listed']} listed, {queued} re-read [{verdict}: 0] "
            f"({json.dumps({k: v['queued_by_reason'] for k, v in first['sources'].items()})})",
            flush=True,
        )
        print(f"{args.drop:.0%} of events lost, {args.changes} changes at {args.rate}/s:")
        loss = under_loss(args, Path(scratch) / "loss")
        took = loss["converged_after_seconds"]
        verdict = "ok" if took is not None and took <= 300 else "MISSED"
        print(
            f"graph equal to the sources {took} s after the last change [{verdict}: <= 300 s]; "
            f"the daemon's promise: staleness bound {loss['staleness_bound_seconds']} s "
            f"({loss['passes']} passes, {loss['entities']} entities, {loss['dropped']} of "
            f"{loss['dropped'] + loss['sent']} change events lost)"
        )


if __name__ == "__main__":
    main()
