"""Benchmark of the query API over the daemon's real Unix socket, at ~100k entities.

    .venv/bin/python bench/api_bench.py                  # 100k entities, ~5-10 minutes
    .venv/bin/python bench/api_bench.py --size 10000     # quicker

How the graph is built: the simulator's ``World.generate(size, seed)``, written straight
through the daemon's own ``Writer`` (in a ``Daemon`` started in this process, so the search
indexer and enrichment see every transaction and infer ``tested_in``), one transaction per
hydration unit, each unit normalized by the real connectors' normalize functions from the
records the simulator serves, owners resolved as identity would. That is the state HTTP
hydration converges to, without its round trips to the sources (the churn below still
makes them). The end of the load is T0.

Then, with the real ``mdsd --config`` serving that data dir as a subprocess and a
``python -m simulator`` subprocess serving the same world (same size and seed) and
emitting into the daemon's socket:

- churn: ``POST /_mutate`` changes the world; its events are hydrated over HTTP as in
  production, so a view as of T0 differs from the current one;
- latency over the socket (a keep-alive client, warm, no ingestion meanwhile): entity page
  (``/v1/entity``), search (``/v1/search``), 6-hop lineage of roots whose walk reaches
  ~1,000 nodes (``/v1/lineage``), each current, as mds knew it at T0 (``as_of=tx:T0``), as
  of a valid time, T0's instant (``as_of=...``), and both combined
  (``known_at=tx:T0``), measured interleaved;
- the same reads in-process before the daemon is served (``Db.entity``, ``queries.show``,
  ``reads.search``, ``queries.lineage``, and ``UnitReads.times``, the entity page's
  journal read): the peers that show what HTTP costs;
- 50 concurrent clients for ``--load-seconds`` while the simulator keeps changing the world
  and the daemon ingests: throughput, latency and errors, and how far ingestion got.

Prints a table and writes ``bench/results/api.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from _procs import cpu_seconds
from serde.toml import to_toml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mds.wire.model import EntityType, NormalizedEntity
from mdsd.config import Config
from mdsd.connectors import CONNECTORS, Hydrated
from mdsd.connectors.ids import ref
from mdsd.connectors.payload import Payload
from mdsd.connectors.rest import RestConnector
from mdsd.daemon import Daemon
from mdsd.demo import demo_config
from mdsd.reads import queries
from mdsd.reads.views import view
from simulator.records import COLLECTIONS
from simulator.world import World

RESULTS = Path(__file__).resolve().parent / "results" / "api.json"
TARGETS_MS = {"entity": 3.0, "search": 10.0, "lineage": 50.0}
AS_OF_RATIO_TARGET = 1.5
LINEAGE_DEPTH = 6
LINEAGE_NODES = 1000
CLIENTS = 50

Normalize = Callable[[Payload], list[NormalizedEntity]]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Timings:
    """Latencies of one kind of call, in milliseconds."""

    samples: list[float] = field(default_factory=list)

    def time(self, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        self.samples.append((time.perf_counter() - started) * 1000)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, float]:
        return {
            "n": len(self.samples),
            "p50_ms": round(statistics.median(self.samples), 3),
            "p90_ms": round(self.quantile(0.90), 3),
            "p99_ms": round(self.quantile(0.99), 3),
        }


def measure(calls: dict[str, Sequence[Callable[[], object]]], rounds: int) -> dict[str, Any]:
    """Every call once to warm up, then ``rounds`` passes over all of them, shuffled
    together: kinds measured side by side share the machine's ups and downs (other work
    on a 2-core machine moves single runs by 2x), so their ratios hold."""
    for todo in calls.values():
        for call in todo:
            call()
    order = [(label, call) for label, todo in calls.items() for call in todo] * rounds
    random.Random(0).shuffle(order)
    timings = {label: Timings() for label in calls}
    for label, call in order:
        timings[label].time(call)
    return {label: t.summary() for label, t in timings.items()}


# -- building the graph --------------------------------------------------------------------------


def normalizers() -> dict[str, Normalize]:
    """Simulator collection -> the real connector's normalize function for its records."""
    found: dict[str, Normalize] = {}
    for cls in CONNECTORS.values():
        if issubclass(cls, RestConnector):
            for collection in cls.collections:
                found[collection.name] = collection.normalize
    missing = set(COLLECTIONS) - set(found)
    if missing:
        raise SystemExit(f"no connector normalizes {sorted(missing)}")
    return found


def owners_of(world: World, entities: list[NormalizedEntity]) -> dict[str, list[str]]:
    """Owner emails -> user ids, as the hydrator resolves them through identity."""
    owners: dict[str, list[str]] = {}
    for entity in entities:
        if entity.owner_emails:
            owners[entity.id] = [
                ref(EntityType.USER, user["id"])
                for email in entity.owner_emails
                for user in world.users_with_email(email)
            ]
    return owners


async def load(daemon: Daemon, world: World) -> int:
    """Write every unit of ``world`` as hydration would; the number of units written."""
    normalize = normalizers()
    units = 0
    started = time.perf_counter()
    for collection in COLLECTIONS:
        for native in sorted(world.truth()["collections"][collection]):
            record = world.record(collection, native)
            entities = normalize[collection](Payload(record, f"{collection}/{native}"))
            result = Hydrated(list({e.id: e for e in entities}.values()))
            cause = {"origin": "bench", "unit": entities[0].id}
            outcome = daemon.writer.write(result, owners_of(world, entities), cause)
            if outcome.report is not None:
                daemon.on_commit(outcome.report)
            units += 1
            if units % 500 == 0:
                await asyncio.sleep(0)  # let the indexer and enrichment keep up
            if units % 10_000 == 0:
                rate = units / (time.perf_counter() - started)
                log(f"  {units} units written ({rate:.0f}/s)")
    return units


# -- the processes -----------------------------------------------------------------------------


@dataclass
class Simulator:
    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start(cls, size: int, seed: int, socket: Path, log_path: Path) -> Simulator:
        """``python -m simulator`` on a free port, emitting into ``socket`` (rate 0: it only
        changes the world on ``POST /_mutate``)."""
        argv = [
            sys.executable, "-m", "simulator", "--size", str(size), "--seed", str(seed),
            "--port", "0", "--emit-socket", str(socket), "--rate", "0", "--no-initial",
        ]  # fmt: skip
        with log_path.open("wb") as errors:
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=errors, cwd=Path(__file__).parent.parent
            )
        assert process.stdout is not None
        line = process.stdout.readline().decode()  # [sources.registry]
        line = process.stdout.readline().decode()  # base_url = "http://..."
        match = re.search(r'"(http://[^"]+)"', line)
        if match is None:
            process.kill()
            raise SystemExit(f"simulator did not print its URL: {line!r}; see {log_path}")
        return cls(process, match.group(1))

    def mutate(self, n: int) -> int:
        answer = httpx.post(f"{self.base_url}/_mutate", params={"n": n}, timeout=60)
        answer.raise_for_status()
        return len(answer.json()["events"])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def mdsd(config_path: Path, socket: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mdsd", "--config", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise SystemExit(f"mdsd exited with {process.returncode}; see {log_path}")
            if socket.exists():
                try:
                    with socket_client(socket) as http:
                        if http.get("/v1/status").status_code == 200:
                            break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"mdsd did not start; see {log_path}")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
        if code != 0:
            log(f"mdsd exited with {code}; see {log_path}")


def socket_client(socket: Path) -> httpx.Client:
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://mds", timeout=120
    )


# -- what to ask -------------------------------------------------------------------------------


@dataclass
class Workload:
    entities: list[str]
    searches: list[str]
    lineage: list[tuple[str, str]]  # (root, direction)
    lineage_nodes: list[int] = field(default_factory=list)


def workload(
    daemon: Daemon, world: World, rng: random.Random, args: argparse.Namespace
) -> Workload:
    """Entities of every kind, search words people type, and lineage roots reaching ~1,000
    nodes in 6 hops (the closest to that among a sample of datasets and instances)."""
    db = daemon.store.db()
    truth = world.truth()["collections"]
    kinds = {
        "models": EntityType.MODEL, "instances": EntityType.MODEL_INSTANCE,
        "pipelines": EntityType.PIPELINE, "pipeline-runs": EntityType.PIPELINE_RUN,
        "features": EntityType.FEATURE, "tests": EntityType.AB_TEST,
        "datasets": EntityType.DATASET, "users": EntityType.USER, "teams": EntityType.TEAM,
    }  # fmt: skip
    population = [ref(kinds[c], n) for c in COLLECTIONS for n in truth[c]]
    entities = rng.sample(population, min(args.entities, len(population)))

    records = [(n, r) for c in COLLECTIONS for n, r in truth[c].items()]
    names = [r.get("name") or n for n, r in rng.sample(records, args.searches)]
    searches = []
    for i, name in enumerate(names):
        words = re.split(r"[-_ .@/]+", str(name))
        if i % 3 == 0:
            searches.append(str(name))  # a whole name
        elif i % 3 == 1:
            searches.append(words[0][: rng.randint(3, 8)])  # a prefix, as typed
        else:
            searches.append(" ".join(words[:2]))  # two words
    candidates = [
        (ref(entity_type, native), direction)
        for collection, entity_type, direction in (
            ("datasets", EntityType.DATASET, "downstream"),
            ("instances", EntityType.MODEL_INSTANCE, "upstream"),
            ("features", EntityType.FEATURE, "downstream"),
        )
        for native in rng.sample(sorted(truth[collection]), min(100, len(truth[collection])))
    ]
    sized = []
    for root, direction in candidates:
        reached = len(queries.lineage(db, root, direction, LINEAGE_DEPTH)["nodes"])
        sized.append((abs(reached - LINEAGE_NODES), reached, root, direction))
    chosen = sorted(sized)[: args.lineage_roots]
    return Workload(
        entities, searches, [(r, d) for _, _, r, d in chosen], [n for _, n, _, _ in chosen]
    )


# -- phases ------------------------------------------------------------------------------------


def in_process(daemon: Daemon, work: Workload, rounds: int) -> dict[str, dict[str, float]]:
    """The peers: the same reads without HTTP, in the process that holds the store."""
    store = daemon.store
    db = store.db()
    ids = [queries.entity_id(db, x) for x in work.entities]

    def show(xid: str) -> object:
        return queries.show(view(store, None), xid)

    def lineage(root: str, direction: str) -> object:
        return queries.lineage(view(store, None), root, direction, LINEAGE_DEPTH)

    def search(query: str) -> object:
        return daemon.services.search(query, limit=20)

    calls: dict[str, Sequence[Callable[[], object]]] = {
        "Db.entity": [partial(db.entity, e) for e in ids],
        "queries.show": [partial(show, x) for x in work.entities],
        "reads.search": [partial(search, q) for q in work.searches],
        "queries.lineage": [partial(lineage, r, d) for r, d in work.lineage],
    }
    return measure(calls, rounds)


async def unit_times(daemon: Daemon, work: Workload, rounds: int) -> dict[str, Any]:
    """The entity page's other read: when the unit was last hydrated and enriched (the
    intake journal, SQLite through aiosqlite's thread)."""
    timings = Timings()
    for xid in work.entities * (rounds + 1):
        started = time.perf_counter()
        await daemon.units.times(xid)
        timings.samples.append((time.perf_counter() - started) * 1000)
    del timings.samples[: len(work.entities)]  # the warm-up pass
    return {"UnitReads.times": timings.summary()}


def over_socket(socket: Path, work: Workload, t0: int, rounds: int) -> dict[str, dict[str, Any]]:
    """The reads over the socket. The valid-time views ask as of T0's instant: the sources
    dated the world's entities before it (undated ones, people and teams, when mds saw
    them, also before it) and the churn after it, so every entity answers and the churn is
    not yet true."""
    results: dict[str, dict[str, Any]] = {}
    with socket_client(socket) as http:

        def get(path: str, **params: Any) -> Callable[[], object]:
            def call() -> object:
                response = http.get(path, params=params)
                if response.status_code != 200:
                    raise SystemExit(
                        f"{path} {params}: {response.status_code} {response.text[:200]}"
                    )
                return response

            return call

        first = http.get("/v1/entity", params={"id": work.entities[0], "as_of": f"tx:{t0}"})
        valid_moment = first.json()["as_of"]["at"]

        def both(kind: str, path: str, asks: list[dict[str, Any]]) -> dict[str, Any]:
            """The current view, as mds knew it at T0 (system time), as of a valid time in
            the world's history and that valid time as known at T0, measured side by side."""
            return {
                f"{kind} current": [get(path, **ask) for ask in asks],
                f"{kind} as_of": [get(path, **ask, as_of=f"tx:{t0}") for ask in asks],
                f"{kind} valid": [get(path, **ask, as_of=valid_moment) for ask in asks],
                f"{kind} combined": [
                    get(path, **ask, as_of=valid_moment, known_at=f"tx:{t0}") for ask in asks
                ],
            }

        results |= measure(both("entity", "/v1/entity", [{"id": x} for x in work.entities]), rounds)
        searches = [{"q": q, "limit": 20} for q in work.searches]
        results |= measure(both("search", "/v1/search", searches), rounds)
        walks = [{"id": r, "direction": d, "depth": LINEAGE_DEPTH} for r, d in work.lineage]
        results |= measure(both("lineage", "/v1/lineage", walks), max(rounds * 5, 5))
    return results


async def under_load(
    socket: Path,
    simulator: Simulator,
    daemon_pid: int,
    work: Workload,
    seconds: float,
    mutations_per_s: float,
) -> dict[str, Any]:
    """``CLIENTS`` clients, each on its own connection, reading as fast as they can while
    the world changes and the daemon ingests; then how long the daemon needs to catch up.

    Connections are opened and warmed before the clock starts. The CPU each process used
    says which side limits throughput: the daemon, or this one process driving 50 clients.
    """
    latencies: list[float] = []
    errors: list[str] = []
    counts = {"entity": 0, "search": 0, "lineage": 0}
    rng = random.Random(1)

    def ask() -> tuple[str, str, dict[str, Any]]:
        pick = rng.random()
        if pick < 0.6:
            return "entity", "/v1/entity", {"id": rng.choice(work.entities)}
        if pick < 0.9:
            return "search", "/v1/search", {"q": rng.choice(work.searches)}
        root, direction = rng.choice(work.lineage)
        return "lineage", "/v1/lineage", {"id": root, "direction": direction, "depth": 3}

    async def client(http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            kind, path, params = ask()
            started = time.perf_counter()
            try:
                response = await http.get(path, params=params)
                if response.status_code != 200:
                    errors.append(f"{path} {response.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"{path} {exc!r}")
            latencies.append((time.perf_counter() - started) * 1000)
            counts[kind] += 1

    async def ingest(deadline: float) -> int:
        events = 0
        async with httpx.AsyncClient(base_url=simulator.base_url, timeout=60) as sim:
            while time.monotonic() < deadline:
                n = max(1, round(mutations_per_s / 2))
                answer = await sim.post("/_mutate", params={"n": n})
                events += len(answer.json()["events"])
                await asyncio.sleep(0.5)
        return events

    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.AsyncHTTPTransport(uds=str(socket)),
                    base_url="http://mds",
                    timeout=120,
                )
            )
            for _ in range(CLIENTS)
        ]
        await asyncio.gather(*(http.get("/v1/status") for http in clients))  # connected
        before = (await clients[0].get("/v1/status")).json()
        cpu_daemon, cpu_bench = cpu_seconds(daemon_pid), time.process_time()
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        *_, events = await asyncio.gather(*(client(h, deadline) for h in clients), ingest(deadline))
        elapsed = time.perf_counter() - started
        cpu_daemon = cpu_seconds(daemon_pid) - cpu_daemon
        cpu_bench = time.process_time() - cpu_bench
        at_end = (await clients[0].get("/v1/status")).json()
        waited = time.perf_counter()
        idle = (await clients[0].get("/v1/wait-idle", params={"timeout": 600})).json()
        caught_up = time.perf_counter() - waited
    return {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "by_kind": counts,
        "errors": len(errors),
        "error_samples": errors[:5],
        "latency": Timings(latencies).summary(),
        "cpu_share": {
            "daemon": round(cpu_daemon / elapsed, 2),
            "bench_clients": round(cpu_bench / elapsed, 2),
        },
        "ingest": {
            "events_emitted": events,
            "transactions_during_load": at_end["last_tx"] - before["last_tx"],
            "pending_at_end": at_end["pending"],
            "seconds_to_idle_after": round(caught_up, 1),
            "idle": idle["idle"],
            "dead_letters_added": idle["dead_letters"] - before["dead_letters"],
        },
    }


# -- report ------------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    socket, peers = report["socket"], report["in_process"]
    rows = [
        f"{'read':<10} {'view':<8} {'p50 ms':>8} {'p90 ms':>8} {'target':>8} {'as-of/current':>14}",
        "-" * 62,
    ]
    for kind in ("entity", "search", "lineage"):
        current = socket[f"{kind} current"]
        views = (("current", "current"), ("known T0", "as_of"), ("valid", "valid"))
        for label, key in (*views, ("combined", "combined")):
            row = socket[f"{kind} {key}"]
            target = f"<= {TARGETS_MS[kind]:g}"
            ratio = row["p50_ms"] / current["p50_ms"]
            tail = f"{ratio:>14.2f}" if key != "current" else ""
            rows.append(
                f"{kind:<10} {label:<8} {row['p50_ms']:>8.2f} {row['p90_ms']:>8.2f} {target:>8} {tail}"
            )
    rows.append("")
    rows.append("peers, in-process (no HTTP), p50 ms:")
    for name, row in peers.items():
        rows.append(f"  {name:<16} {row['p50_ms']:>8.3f}")
    http = report["http_overhead"]
    rows.append(
        f"entity over the socket / queries.show in-process: {http['entity_vs_show']:.1f}x; "
        f"/ raw Db.entity: {http['entity_vs_db_entity']:.0f}x"
    )
    load = report["under_load"]
    rows.append("")
    rows.append(
        f"{load['clients']} clients for {load['seconds']}s while ingesting: "
        f"{load['throughput_rps']} req/s, {load['errors']} errors, "
        f"p50 {load['latency']['p50_ms']} ms, p99 {load['latency']['p99_ms']} ms; "
        f"{load['ingest']['events_emitted']} events -> {load['ingest']['transactions_during_load']} "
        f"transactions, idle {load['ingest']['seconds_to_idle_after']}s after; CPU in use: "
        f"daemon {load['cpu_share']['daemon']:.0%}, the clients' process "
        f"{load['cpu_share']['bench_clients']:.0%}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="entities in the world")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--entities", type=int, default=500, help="entity pages sampled")
    parser.add_argument("--searches", type=int, default=300, help="search queries sampled")
    parser.add_argument("--lineage-roots", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="measured passes per sample")
    parser.add_argument("--churn", type=int, default=2000, help="mutations after T0")
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument("--mutations-per-second", type=float, default=20.0)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the data here")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--read-processes",
        type=int,
        default=None,
        help="[api] read_processes (default: the default; 0 reads on the daemon's threads)",
    )
    args = parser.parse_args(argv)
    # while the load writes teams before their members, enrichment asks identity for the
    # members it sees as stubs and retries when the simulator is slow: expected, not news
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mds-api-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    socket = workdir / "run" / "mdsd.sock"
    rng = random.Random(args.seed)
    report: dict[str, Any] = {
        "size": args.size,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "targets_ms": TARGETS_MS,
        "load_method": "Writer with the connectors' normalize functions (not HTTP hydration)",
    }
    simulator = None
    try:
        log(f"simulator subprocess: a world of {args.size} (seed {args.seed})")
        simulator = Simulator.start(args.size, args.seed, socket, workdir / "simulator.log")
        started = time.perf_counter()
        world = World.generate(size=args.size, seed=args.seed)
        report["entities"] = world.entity_count()
        log(f"generated {world.entity_count()} entities in {time.perf_counter() - started:.1f}s")
        config: Config = demo_config(simulator.base_url, workdir / "data", socket)
        config.daemon.log_level = "warning"
        config.enrichment.interval_seconds = 30.0
        if args.read_processes is not None:
            config.api.read_processes = args.read_processes
        config_path = workdir / "mdsd.toml"
        config_path.write_text(to_toml(config))

        async def build() -> tuple[int, Workload, dict[str, Any]]:
            daemon = Daemon(config)
            await daemon.start()
            try:
                started = time.perf_counter()
                units = await load(daemon, world)
                wrote = time.perf_counter() - started
                assert await daemon.wait_idle(1800), "enrichment did not settle"
                settled = time.perf_counter() - started
                status = await daemon.status()
                report["load"] = {
                    "units": units,
                    "write_seconds": round(wrote, 1),
                    "settled_seconds": round(settled, 1),
                    "transactions": status["last_tx"],
                    "entities": status["entities"],
                    "stubs": status["stubs"],
                    "inferred_edges": status["enrichment"]["totals"]["added"],
                }
                log(
                    f"loaded {units} units in {wrote:.0f}s, settled in {settled:.0f}s: {report['load']}"
                )
                work = workload(daemon, world, rng, args)
                log(f"lineage roots reach {work.lineage_nodes} nodes in {LINEAGE_DEPTH} hops")
                peers = in_process(daemon, work, args.rounds)
                peers |= await unit_times(daemon, work, args.rounds)
                return status["last_tx"], work, peers
            finally:
                await daemon.stop()

        t0, work, peers = asyncio.run(build())
        report["t0"] = t0
        report["lineage_nodes"] = work.lineage_nodes
        report["in_process"] = peers

        with mdsd(config_path, socket, workdir / "mdsd.log") as served:
            log(f"mdsd serves {socket}; churn: {args.churn} mutations")
            events = 0
            for _ in range(0, args.churn, 200):
                events += simulator.mutate(200)
            with socket_client(socket) as http:
                idle = http.get("/v1/wait-idle", params={"timeout": 1800}).json()
            report["churn"] = {
                "mutations": args.churn,
                "events": events,
                "transactions": idle["last_tx"] - t0,
                "idle": idle["idle"],
            }
            log(f"churned: {report['churn']}")
            report["socket"] = over_socket(socket, work, t0, args.rounds)
            log("under load ...")
            report["under_load"] = asyncio.run(
                under_load(
                    socket,
                    simulator,
                    served.pid,
                    work,
                    args.load_seconds,
                    args.mutations_per_second,
                )
            )
        entity_ms = report["socket"]["entity current"]["p50_ms"]
        report["http_overhead"] = {
            "entity_vs_show": round(entity_ms / peers["queries.show"]["p50_ms"], 1),
            "entity_vs_db_entity": round(entity_ms / peers["Db.entity"]["p50_ms"]),
        }
        report["as_of_ratio_p50"] = {
            kind: round(
                report["socket"][f"{kind} as_of"]["p50_ms"]
                / report["socket"][f"{kind} current"]["p50_ms"],
                2,
            )
            for kind in ("entity", "search", "lineage")
        }
        report["valid_ratio_p50"] = {
            f"{kind} {view}": round(
                report["socket"][f"{kind} {view}"]["p50_ms"]
                / report["socket"][f"{kind} current"]["p50_ms"],
                2,
            )
            for kind in ("entity", "search", "lineage")
            for view in ("valid", "combined")
        }
        report["meets_targets"] = {
            kind: report["socket"][f"{kind} current"]["p50_ms"] <= TARGETS_MS[kind]
            and report["as_of_ratio_p50"][kind] <= AS_OF_RATIO_TARGET
            for kind in TARGETS_MS
        }
    finally:
        if simulator is not None:
            simulator.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
