"""``mds`` as a user runs it: wall time of whole processes against a real daemon's socket.

    .venv/bin/python bench/cli_bench.py                    # 100k entities: ~10-15 min load
    .venv/bin/python bench/cli_bench.py --size 10000       # quicker
    .venv/bin/python bench/cli_bench.py --workdir W        # keep the loaded data in W; a
                                                           # second run serves it again

The graph is built as ``bench/api_bench.py`` builds it (the simulator's world written
through the daemon's own ``Writer``), then the real ``mdsd --config`` serves it, with the
simulator answering as its sources. Measured side by side, shuffled together, each a fresh
process (p50/p95 wall ms): ``mds --version``, ``mds show ID``, ``mds status`` and
``mds search``, against two floors: the venv's bare ``python -c pass`` (what any Python
command pays to start) and ``curl --unix-socket`` asking the same endpoint (what the
answer costs with no Python at all). ``status in the daemon`` is ``GET /v1/status`` on a
warm connection, between commits: what the daemon spends on it.

The ``mds`` package is byte-compiled first, as pip does at install (an editable install
under ``PYTHONDONTWRITEBYTECODE`` would compile every module on every run).

Prints a table and writes ``bench/results/cli.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api_bench import Simulator, Timings, load, log, mdsd
from serde.toml import to_toml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mds
from mds.socket_client import SocketClient
from mds.target import Target
from mdsd.config import Config
from mdsd.daemon import Daemon
from mdsd.demo import demo_config
from simulator.world import World

RESULTS = Path(__file__).resolve().parent / "results" / "cli.json"
#: issue 23's targets, wall ms of a whole process
TARGETS_MS = {"mds show": 60.0, "mds --version": 40.0, "mds status": 60.0}
#: what a loaded work dir holds, so a second run serves it instead of loading again
LOADED = "loaded.json"


def build(workdir: Path, size: int, seed: int, simulator: Simulator) -> dict[str, Any]:
    """Write the world into ``workdir/data`` and the config that serves it."""
    socket = workdir / "run" / "mdsd.sock"
    started = time.perf_counter()
    world = World.generate(size=size, seed=seed)
    log(f"generated {world.entity_count()} entities in {time.perf_counter() - started:.1f}s")
    config: Config = demo_config(simulator.base_url, workdir / "data", socket)
    config.daemon.log_level = "warning"
    config.enrichment.interval_seconds = 30.0
    (workdir / "mdsd.toml").write_text(to_toml(config))

    async def write() -> dict[str, Any]:
        daemon = Daemon(config)
        await daemon.start()
        try:
            started = time.perf_counter()
            units = await load(daemon, world)
            assert await daemon.wait_idle(1800), "enrichment did not settle"
            status = await daemon.status()
            return {
                "units": units,
                "seconds": round(time.perf_counter() - started, 1),
                "entities": status["entities"],
                "last_tx": status["last_tx"],
            }
        finally:
            await daemon.stop()

    loaded = asyncio.run(write())
    log(f"loaded: {loaded}")
    return loaded


def served_config(workdir: Path, simulator: Simulator) -> Path:
    """The kept config, its sources pointed at this run's simulator."""
    path = workdir / "mdsd.toml"
    text = path.read_text()
    old = next(line for line in text.splitlines() if line.startswith("base_url = "))
    return path if old.endswith(f'"{simulator.base_url}"') else _rewritten(path, old, simulator)


def _rewritten(path: Path, old: str, simulator: Simulator) -> Path:
    path.write_text(path.read_text().replace(old, f'base_url = "{simulator.base_url}"'))
    return path


def process(argv: list[str], env: dict[str, str]) -> Callable[[], object]:
    """A call that runs ``argv`` to its end and fails loudly if it fails."""

    def run() -> object:
        done = subprocess.run(argv, env=env, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[-400:]}")
        return done

    return run


def table(report: dict[str, Any]) -> str:
    floors = report["wall"]
    python = floors["python -c pass"]["p50_ms"]
    lines = [
        f"{'wall, fresh process':<28} {'p50 ms':>8} {'p95 ms':>8} {'x python':>9}  target",
        "-" * 66,
    ]
    for label, row in report["wall"].items():
        target = TARGETS_MS.get(label)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:g} {'met' if row['p50_ms'] <= target else 'MISSED'}"
        ratio = row["p50_ms"] / python if python else float("nan")
        lines.append(
            f"{label:<28} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {ratio:>9.2f}  {verdict}"
        )
    daemon = report["status_in_daemon"]
    lines.append(
        f"{'status in the daemon':<28} {daemon['p50_ms']:>8.2f} {daemon['p95_ms']:>8.2f}"
        "            (warm connection, between commits)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="entities in the world")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20, help="runs of each command")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the data here")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mds-cli-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    socket = workdir / "run" / "mdsd.sock"
    bin_dir = Path(sys.executable).parent
    mds_command = str(bin_dir / "mds")
    curl = shutil.which("curl")
    report: dict[str, Any] = {
        "size": args.size,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "targets_ms": TARGETS_MS,
    }
    compileall.compile_dir(Path(mds.__file__).parent, quiet=1)
    simulator = Simulator.start(args.size, args.seed, socket, workdir / "simulator.log")
    try:
        kept = workdir / LOADED
        if kept.exists() and json.loads(kept.read_text())["size"] == args.size:
            report["load"] = json.loads(kept.read_text())
            log(f"serving the graph loaded before in {workdir}")
        else:
            report["load"] = {"size": args.size, **build(workdir, args.size, args.seed, simulator)}
            kept.write_text(json.dumps(report["load"]))
        with mdsd(served_config(workdir, simulator), socket, workdir / "mdsd.log"):
            with SocketClient(Target(socket=socket)) as client:
                found = client.search("*", type="model", limit=10)["results"]
                ids = [hit["id"] for hit in found]
                report["entities"] = client.status()["entities"]
                daemon = Timings()
                for _ in range(args.rounds * 10):
                    daemon.time(client.status)
            report["status_in_daemon"] = {
                **daemon.summary(),
                "p95_ms": round(daemon.quantile(0.95), 3),
            }
            env = {**os.environ, "MDS_SOCKET": str(socket)}
            calls: dict[str, list[Callable[[], object]]] = {
                "python -c pass": [process([sys.executable, "-c", "pass"], env)],
                "mds --version": [process([mds_command, "--version"], env)],
                "mds show": [process([mds_command, "show", xid], env) for xid in ids],
                "mds status": [process([mds_command, "status"], env)],
                "mds search": [process([mds_command, "search", "ranking", "--limit", "5"], env)],
            }
            if curl is not None:
                url = "http://mds/v1/entity?id="
                calls["curl entity"] = [
                    process([curl, "-sf", "--unix-socket", str(socket), url + xid], env)
                    for xid in ids
                ]
                calls["curl status"] = [
                    process(
                        [curl, "-sf", "--unix-socket", str(socket), "http://mds/v1/status"], env
                    )
                ]
            rounds = max(1, args.rounds // len(ids))
            report["wall"] = wall(calls, args.rounds, rounds)
    finally:
        simulator.stop()
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.out}")
    return 0


def wall(
    calls: dict[str, list[Callable[[], object]]], rounds: int, per_id_rounds: int
) -> dict[str, Any]:
    """Each command ~``rounds`` times (a command over several ids ``per_id_rounds`` times
    each), all shuffled together as api_bench's ``measure`` does: on a 2-core machine
    shared with other work, single runs move by 2x, and side by side their ratios hold.
    p50 and p95 wall ms."""
    for todo in calls.values():
        todo[0]()  # warm the page cache for every binary first
    spread = {
        label: todo * (rounds if len(todo) == 1 else per_id_rounds) for label, todo in calls.items()
    }
    timings = {label: Timings() for label in calls}
    order = [(label, call) for label, todo in spread.items() for call in todo]
    random.Random(0).shuffle(order)
    for label, call in order:
        timings[label].time(call)
    return {
        label: {**t.summary(), "p95_ms": round(t.quantile(0.95), 3)} for label, t in timings.items()
    }


if __name__ == "__main__":
    sys.exit(main())
