"""A big initial load end to end: an N-entity simulator world into a fresh daemon.

The simulator (its own process, chaos off, sources unthrottled as in ``e2e_bench``) serves
a world of ``--size`` entities; the bench sends the daemon one thin event per entity (and
the OpenLineage events of the world's runs) and waits until the daemon is idle: every unit
hydrated, written, indexed and enriched. It reports the time, events/s, the peak resident
memory of the daemon and of the daemon with every process it started (hydration and read
workers; their summed RSS counts shared libraries once per process, so their summed PSS is
reported beside it), sampled every ``--sample-seconds``, and the disk the data directory
takes.

    .venv/bin/python bench/million_bench.py [--size 1000000] [--sample-seconds 0.5]
        [--set daemon.block_cache_mb=64 ...]

The issue's targets (issue 23): 1M entities in <= 15 minutes on this 2-core machine; peak
RSS of daemon plus workers <= 400 MB for 100k entities, <= 2 GB for 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from e2e_bench import start_simulator

from mds.testing import DaemonProcess
from simulator.world import World

ROOT = Path(__file__).resolve().parents[1]


def memory_bytes(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid``, (0, 0) once it is gone. The RSS of several processes counts
    the pages they share (the interpreter's libraries) once per process; their PSS adds up
    to what they take together."""
    found = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *value = line.split()
            if key in found:
                found[key] = int(value[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found["Rss:"], found["Pss:"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux ``/proc/PID/task/TID/children``)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found += children
            pending += children
    return found


@dataclass
class PeakRss:
    """Samples the resident memory of a process and its descendants in a thread; keeps the
    peaks of the process alone and of the sum over the tree at one moment."""

    pid: int
    every: float
    daemon: int = 0
    total: int = 0
    #: the peak of the tree's summed PSS: shared pages counted once
    total_pss: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        tree = [memory_bytes(pid) for pid in [self.pid, *descendants(self.pid)]]
        self.daemon = max(self.daemon, tree[0][0])
        self.total = max(self.total, sum(rss for rss, _ in tree))
        self.total_pss = max(self.total_pss, sum(pss for _, pss in tree))
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> PeakRss:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (blocks, as ``du`` counts them)."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def parse_setting(text: str) -> tuple[str, str, object]:
    """``TABLE.KEY=VALUE`` (VALUE as JSON, else a string) -> (table, key, value)."""
    name, _, raw = text.partition("=")
    table, _, key = name.partition(".")
    if not (table and key and raw):
        raise argparse.ArgumentTypeError(f"expected TABLE.KEY=VALUE, got {text!r}")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw
    return table, key, value


def run(
    size: int, seed: int, every: float, settings: list[tuple[str, str, object]]
) -> dict[str, object]:
    generated = time.perf_counter()
    world = World.generate(size=size, seed=seed)
    body = "\n".join(json.dumps(e) for e in world.initial_events()).encode()
    del world
    generated = time.perf_counter() - generated
    simulator, base = start_simulator(size, seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extra: dict[str, dict[str, object]] = {}
            for table, key, value in settings:
                extra.setdefault(table, {})[key] = value
            daemon = DaemonProcess(Path(tmp), base, enrichment_interval=5.0, extra=extra).start()
            try:
                assert daemon.process is not None
                with PeakRss(daemon.process.pid, every) as peak:
                    started = time.perf_counter()
                    accepted = daemon.call("ingest", body)["accepted"]
                    acknowledged = time.perf_counter() - started
                    idle = daemon.call("wait_idle", 24 * 3600)["idle"]
                    elapsed = time.perf_counter() - started
                status = daemon.call("status")
                disk = disk_bytes(daemon.data_dir)
            finally:
                daemon.stop()
    finally:
        simulator.terminate()
    mb = 2**20
    return {
        "size": size,
        "settings": {f"{t}.{k}": v for t, k, v in settings},
        "events": accepted,
        "entities": status["entities"],
        "idle": idle,
        "world_seconds": round(generated, 1),
        "acknowledge_seconds": round(acknowledged, 1),
        "seconds": round(elapsed, 1),
        "events_per_second": round(accepted / elapsed),
        "entities_per_second": round(status["entities"] / elapsed),
        "peak_rss_daemon_mb": round(peak.daemon / mb),
        "peak_rss_with_workers_mb": round(peak.total / mb),
        "peak_pss_with_workers_mb": round(peak.total_pss / mb),
        "rss_samples": peak.samples,
        "disk_mb": round(disk / mb),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="entities in the world")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sample-seconds", type=float, default=0.5, help="how often memory is sampled"
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        type=parse_setting,
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="a daemon config key for the run (daemon.cache_entities=20000); repeatable",
    )
    parser.add_argument(
        "--out", type=Path, help="where the report goes (bench/results/million_SIZE.json)"
    )
    args = parser.parse_args()
    result = run(args.size, args.seed, args.sample_seconds, args.settings)
    print(
        f"{'entities':>9} {'events':>8} {'seconds':>8} {'events/s':>9}"
        f" {'daemon MB':>10} {'+workers MB':>12} {'(PSS)':>6} {'disk MB':>8}"
    )
    print(
        f"{result['entities']:>9} {result['events']:>8} {result['seconds']:>8}"
        f" {result['events_per_second']:>9} {result['peak_rss_daemon_mb']:>10}"
        f" {result['peak_rss_with_workers_mb']:>12} {result['peak_pss_with_workers_mb']:>6}"
        f" {result['disk_mb']:>8}"
    )
    print(json.dumps(result))
    out = args.out or ROOT / "bench" / "results" / f"million_{args.size}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
