"""Benchmark of the seed's GraphQL query against the equivalent REST calls, ~100k entities.

    .venv/bin/python bench/graphql_bench.py                 # 100k entities, ~1 minute
    .venv/bin/python bench/graphql_bench.py --size 20000    # quicker
    .venv/bin/python bench/graphql_bench.py --no-socket     # in-process only

Builds an organisation of the reference platform straight into a ``FactStore`` in the
daemon's fact schema (``mdsd.facts``), 1000 entities per transaction: users and teams,
datasets (derived from earlier ones) and their versions, features, pipelines and runs,
models with ten instances each (every instance using ~8 features), A/B tests with three
cells, and the inferred ``tested_in`` edges with their reified provenance. Then it churns
it (``--churn`` transactions, each giving a model a new owner, a new description and a new
current instance), so a view as of the end of the load (T0) differs for those models.

For a seeded sample of models (half of them churned) it measures, warm, in the same run:

- the seed's query through ``mdsd.api.graphql.execute`` (in-process) and ``POST /v1/graphql``
  (uvicorn serving ``mdsd.api.rest.create_app`` on a real Unix socket, in a thread);
- the equivalent REST reads: ``show`` of the model, ``usage`` of the model and upstream
  ``lineage`` of its current instance at depth 2 (what the seed's query reads), in-process
  through ``mdsd.reads.queries`` and over the socket as ``/v1/entity`` + ``/v1/usage`` +
  ``/v1/lineage``;

each current and ``as_of=tx:T0``, and prints p50/p90 and the GraphQL/REST ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mds.wire.model import EntityType, Rel, aip_id
from mdsd import facts as F
from mdsd.api.graphql import execute
from mdsd.api.ports import Services
from mdsd.connectors.ids import HOME
from mdsd.enrichment.inference import new_edge_ops
from mdsd.enrichment.settings import EnrichmentConfig
from mdsd.reads import queries
from mdsd.reads.cost import ReadLimits, ReadRunner
from mdsd.reads.views import view
from store import Add, FactStore, Op, Replace

SEED = """query($id: ID!) { model(id: $id) { name owners { name }
    currentInstance { version pipeline { name owners { name } }
      features { edges { node { name data { edges { node { name } } } } } }
      associatedAbTests { name cells { number name } } } } }"""

T = EntityType
#: entity type -> the source that owns it
SOURCE = HOME
#: share of the organisation's entities per kind (the rest are edge records)
SHARE = {
    T.TEAM: 0.001,
    T.USER: 0.02,
    T.DATASET: 0.08,
    T.DATASET_VERSION: 0.16,
    T.FEATURE: 0.15,
    T.PIPELINE: 0.02,
    T.PIPELINE_RUN: 0.20,
    T.AB_TEST: 0.03,
    T.AB_TEST_CELL: 0.09,
    T.MODEL: 0.02,
    T.MODEL_INSTANCE: 0.20,
}
INSTANCES_PER_MODEL = 10
FEATURES_PER_INSTANCE = 8
CELLS_PER_TEST = 3
BATCH = 1000


def xid(kind: EntityType, n: int | str) -> str:
    return aip_id(kind, SOURCE[kind], f"{kind.name.lower().replace('_', '-')}-{n}")


# -- the organisation --------------------------------------------------------------------------


@dataclass
class Org:
    counts: dict[EntityType, int]
    #: model xid -> its current instance's xid
    current: dict[str, str] = field(default_factory=dict)
    t0: int = 0
    churned: list[str] = field(default_factory=list)


def _entity(kind: EntityType, n: int, owner: str | None = None, **attrs: Any) -> list[Op]:
    e = xid(kind, n)
    ops: list[Op] = [
        Add(e, F.TYPE, str(kind)),
        Add(e, F.NAME, f"{kind.name.lower()} {n}"),
        Add(e, F.SOURCE, SOURCE[kind]),
        Add(e, F.NATIVE_ID, e.rsplit("/", 1)[1]),
        Add(e, F.STATUS, F.STATUS_RESOLVED),
        Add(e, F.DESCRIPTION, f"the {kind.name.lower()} number {n}"),
    ]
    if owner:
        ops.append(Add(e, F.rel_attr(Rel.OWNED_BY), owner))
    ops += [Add(e, F.attr_key(k), v) for k, v in attrs.items()]
    return ops


def _rel(source: str, rel: Rel, *targets: str) -> list[Op]:
    return [Add(source, F.rel_attr(rel), t) for t in targets]


def _units(org: Org, rng: random.Random) -> Iterator[list[Op]]:
    """Each entity's ops, targets before the entities that reference them."""
    c = org.counts
    user = lambda: xid(T.USER, rng.randrange(c[T.USER]))  # noqa: E731
    for n in range(c[T.TEAM]):
        yield _entity(T.TEAM, n)
    for n in range(c[T.USER]):
        yield _entity(T.USER, n, email=f"user{n}@example.com") + _rel(
            xid(T.USER, n), Rel.MEMBER_OF, xid(T.TEAM, n % c[T.TEAM])
        )
    for n in range(c[T.DATASET]):
        ops = _entity(T.DATASET, n, user())
        if n > c[T.DATASET] // 5:  # the first fifth are raw
            upstream = {xid(T.DATASET, rng.randrange(max(1, n - 50), n)) for _ in range(2)}
            ops += _rel(xid(T.DATASET, n), Rel.DERIVED_FROM, *upstream)
        yield ops
    for n in range(c[T.DATASET_VERSION]):
        yield _entity(T.DATASET_VERSION, n, version=f"2025-01-{n % 28 + 1:02}") + _rel(
            xid(T.DATASET_VERSION, n), Rel.VERSION_OF, xid(T.DATASET, n % c[T.DATASET])
        )
    for n in range(c[T.FEATURE]):
        sources = {xid(T.DATASET, rng.randrange(c[T.DATASET])) for _ in range(rng.randint(1, 3))}
        yield _entity(T.FEATURE, n, user()) + _rel(xid(T.FEATURE, n), Rel.DERIVED_FROM, *sources)
    for n in range(c[T.PIPELINE]):
        outputs = {xid(T.DATASET, rng.randrange(c[T.DATASET])) for _ in range(2)}
        yield _entity(T.PIPELINE, n, user(), schedule="0 3 * * 1") + _rel(
            xid(T.PIPELINE, n), Rel.OUTPUTS, *outputs
        )
    for n in range(c[T.AB_TEST]):
        yield _entity(T.AB_TEST, n, user(), status="ACTIVE")
    for n in range(c[T.AB_TEST_CELL]):
        yield _entity(T.AB_TEST_CELL, n, cell_number=n % CELLS_PER_TEST + 1) + _rel(
            xid(T.AB_TEST_CELL, n), Rel.CELL_OF, xid(T.AB_TEST, n // CELLS_PER_TEST)
        )
    runs_for_cells: dict[int, int] = {}
    for n in range(c[T.PIPELINE_RUN]):
        r = xid(T.PIPELINE_RUN, n)
        ops = _entity(T.PIPELINE_RUN, n, status="succeeded")
        ops += _rel(r, Rel.RUN_OF, xid(T.PIPELINE, n % c[T.PIPELINE]))
        reads = {xid(T.DATASET_VERSION, rng.randrange(c[T.DATASET_VERSION])) for _ in range(2)}
        ops += _rel(r, Rel.READS, *reads)
        if rng.random() < 0.4:
            cell = rng.randrange(c[T.AB_TEST_CELL])
            runs_for_cells[n] = cell
            ops += _rel(r, Rel.RAN_FOR, xid(T.AB_TEST_CELL, cell))
        yield ops
    yield from _instances(org, rng, runs_for_cells)


def _instances(org: Org, rng: random.Random, runs_for_cells: dict[int, int]) -> Iterator[list[Op]]:
    c = org.counts
    models = c[T.MODEL]
    for n in range(c[T.MODEL_INSTANCE]):
        yield _instance(org, rng, n, n % models, runs_for_cells)
    for m in range(models):
        model = xid(T.MODEL, m)
        instances = [xid(T.MODEL_INSTANCE, n) for n in range(m, c[T.MODEL_INSTANCE], models)]
        current = instances[-1]
        org.current[model] = current
        ops = _entity(T.MODEL, m, xid(T.USER, rng.randrange(c[T.USER])))
        ops += _rel(model, Rel.CURRENT_INSTANCE, current)
        ops += [Add(model, F.MENTIONS, i) for i in instances]
        yield ops


def _instance(
    org: Org, rng: random.Random, n: int, m: int, runs_for_cells: dict[int, int]
) -> list[Op]:
    c = org.counts
    i = xid(T.MODEL_INSTANCE, n)
    run = rng.randrange(c[T.PIPELINE_RUN])
    # a model's instances draw on a window of related features, as teams' models do
    base = m * c[T.FEATURE] // c[T.MODEL]
    features = {
        xid(T.FEATURE, (base + rng.randrange(40)) % c[T.FEATURE])
        for _ in range(FEATURES_PER_INSTANCE)
    }
    ops = _entity(T.MODEL_INSTANCE, n, xid(T.USER, rng.randrange(c[T.USER])))
    ops += [
        Add(i, F.attr_key("version"), str(n // c[T.MODEL])),
        Add(i, F.attr_key("status"), "production"),
    ]
    ops += _rel(i, Rel.INSTANCE_OF, xid(T.MODEL, m))
    ops += _rel(i, Rel.PRODUCED_BY, xid(T.PIPELINE_RUN, run))
    ops += _rel(i, Rel.USES_FEATURE, *features)
    if run in runs_for_cells:
        cell = runs_for_cells[run]
        test = xid(T.AB_TEST, cell // CELLS_PER_TEST)
        cell_id, run_id = xid(T.AB_TEST_CELL, cell), xid(T.PIPELINE_RUN, run)
        path = [i, run_id, cell_id, test]
        for target in (cell_id, test):
            ops += new_edge_ops(Rel.TESTED_IN, i, target, "produced_by/ran_for/cell_of", path)
    return ops


def build(store: FactStore, size: int, churn: int, seed: int) -> Org:
    store.install(F.SCHEMA)
    names = ("version", "status", "email", "schedule", "cell_number")
    store.install(F.scalar_attribute(n) for n in names)
    rng = random.Random(seed)
    org = Org({kind: max(1, int(size * share)) for kind, share in SHARE.items()})
    ops: list[Op] = []
    for units, unit in enumerate(_units(org, rng), 1):
        ops += unit
        if units % BATCH == 0:
            store.transact(ops, {"bench": "load"})
            ops = []
    if ops:
        store.transact(ops, {"bench": "load"})
    org.t0 = store.last_tx
    _churn(store, org, rng, churn)
    return org


def _churn(store: FactStore, org: Org, rng: random.Random, transactions: int) -> None:
    """Each transaction: a model's new owner, description and current instance."""
    c = org.counts
    models = sorted(org.current)
    extra = c[T.MODEL_INSTANCE]
    for k in range(transactions):
        model = models[rng.randrange(len(models))]
        m = int(model.rsplit("-", 1)[1])
        n = extra + k
        new = xid(T.MODEL_INSTANCE, n)
        ops = _instance(org, rng, n, m, {})
        ops += [
            Replace(model, F.rel_attr(Rel.OWNED_BY), [xid(T.USER, rng.randrange(c[T.USER]))]),
            Replace(model, F.DESCRIPTION, [f"retrained ({k})"]),
            Replace(model, F.rel_attr(Rel.CURRENT_INSTANCE), [new]),
            Add(model, F.MENTIONS, new),
        ]
        store.transact(ops, {"bench": "churn"})
        org.current[model] = new
        org.churned.append(model)


# -- measuring ----------------------------------------------------------------------------------


def rest_in_process(store: FactStore, model: str, as_of: str | None) -> None:
    """What a REST client does for the seed's answer: show, usage, lineage of the instance."""
    db = view(store, as_of)
    shown = queries.show(db, model)
    current = next(
        r["target"]
        for r in shown["relationships"]
        if r["type"] == "current_instance" and r["direction"] == "out"
    )
    queries.usage(db, model)
    queries.lineage(db, current, "upstream", 2)


async def graphql_in_process(store: FactStore, model: str, as_of: str | None) -> None:
    answer = await execute({"query": SEED, "variables": {"id": model}}, store, None, as_of)
    assert "errors" not in answer, answer["errors"]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


@dataclass
class Row:
    name: str
    samples: list[float] = field(default_factory=list)

    def line(self, against: Row | None = None) -> str:
        p50, p90 = percentiles(self.samples)
        text = f"{self.name:<34} p50 {p50 * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms"
        if against is not None:
            ratio = p50 / percentiles(against.samples)[0]
            text += f"   x{ratio:.2f} of {against.name}"
        return text


async def measure_in_process(store: FactStore, sample: list[str], as_of: str) -> list[Row]:
    rows = {k: Row(k) for k in ("graphql now", "graphql as-of", "rest x3 now", "rest x3 as-of")}
    for warm in (True, False):
        for model in sample:
            for key, moment in (("now", None), ("as-of", as_of)):
                start = time.perf_counter()
                await graphql_in_process(store, model, moment)
                middle = time.perf_counter()
                rest_in_process(store, model, moment)
                end = time.perf_counter()
                if not warm:
                    rows[f"graphql {key}"].samples.append(middle - start)
                    rows[f"rest x3 {key}"].samples.append(end - middle)
    return list(rows.values())


def read_only_services(store: FactStore) -> Services:
    """What the API's read endpoints use, over the benchmark's store (no search index, no
    journal); the benchmark never calls the rest."""

    async def never_hydrated(xid: str) -> None:  # no journal: no unit state, no times
        return None

    def no_hits(query: str, **_: Any) -> dict[str, Any]:
        return {"results": []}

    unused: Any = None
    return Services(
        facts=store,
        intake=unused,
        changes=unused,
        search=no_hits,
        unit_state=never_hydrated,
        unit_times=never_hydrated,
        quality=unused,
        dead_letters=unused,
        status=unused,
        wait_idle=unused,
        redrive=unused,
        reconcile=unused,
        backup=unused,
        stale_days=EnrichmentConfig().stale_days,
        reader=ReadRunner(ReadLimits()),
    )


def measure_socket(store: FactStore, sample: list[str], as_of: str, path: Path) -> list[Row]:
    import httpx

    from mdsd.api.rest import create_app
    from mdsd.base.listeners import bind_unix_socket, build_server

    services = read_only_services(store)
    server = build_server(create_app(lambda: services))
    sock = bind_unix_socket(path)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    rows = {
        k: Row(k)
        for k in (
            "socket graphql now",
            "socket graphql as-of",
            "socket rest x3 now",
            "socket rest x3 as-of",
        )
    }
    try:
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(path)), base_url="http://mds"
        ) as http:

            def graphql(model: str, moment: str | None) -> None:
                params = {"as_of": moment} if moment else {}
                body = {"query": SEED, "variables": {"id": model}}
                response = http.post("/v1/graphql", json=body, params=params)
                assert response.status_code == 200 and "errors" not in response.json()

            def rest(model: str, moment: str | None) -> None:
                params = {"id": model, **({"as_of": moment} if moment else {})}
                shown = http.get("/v1/entity", params=params).json()
                current = next(
                    r["target"]
                    for r in shown["relationships"]
                    if r["type"] == "current_instance" and r["direction"] == "out"
                )
                http.get("/v1/usage", params=params).raise_for_status()
                lineage = {**params, "id": current, "direction": "upstream", "depth": "2"}
                http.get("/v1/lineage", params=lineage).raise_for_status()

            for warm in (True, False):
                for model in sample:
                    for key, moment in (("now", None), ("as-of", as_of)):
                        for name, call in (("graphql", graphql), ("rest x3", rest)):
                            start = time.perf_counter()
                            call(model, moment)
                            if not warm:
                                rows[f"socket {name} {key}"].samples.append(
                                    time.perf_counter() - start
                                )
    finally:
        server.should_exit = True
        thread.join(10)
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="entities (default 100000)")
    parser.add_argument("--churn", type=int, default=500, help="transactions after T0")
    parser.add_argument("--sample", type=int, default=300, help="models queried")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-socket", action="store_true", help="skip the Unix socket runs")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mds-graphql-bench-"))
    try:
        store = FactStore(work / "facts")
        started = time.perf_counter()
        org = build(store, args.size, args.churn, args.seed)
        entities = sum(org.counts.values()) + args.churn
        print(
            f"built {entities} entities in {store.last_tx} transactions "
            f"({time.perf_counter() - started:.1f} s); T0 = tx {org.t0}"
        )
        rng = random.Random(args.seed)
        churned = sorted(set(org.churned))
        others = sorted(set(org.current) - set(churned))
        half = args.sample // 2
        sample = rng.sample(churned, min(half, len(churned)))
        sample += rng.sample(others, min(args.sample - len(sample), len(others)))
        as_of = f"tx:{org.t0}"
        print(f"{len(sample)} models ({len(set(sample) & set(churned))} changed since T0), warm\n")

        rows = asyncio.run(measure_in_process(store, sample, as_of))
        by = {r.name: r for r in rows}
        print(by["graphql now"].line(by["rest x3 now"]))
        print(by["graphql as-of"].line(by["graphql now"]))
        print(by["rest x3 now"].line())
        print(by["rest x3 as-of"].line(by["rest x3 now"]))
        if not args.no_socket:
            socket_rows = measure_socket(store, sample, as_of, work / "mdsd.sock")
            by = {r.name: r for r in socket_rows}
            print()
            print(by["socket graphql now"].line(by["socket rest x3 now"]))
            print(by["socket graphql as-of"].line(by["socket graphql now"]))
            print(by["socket rest x3 now"].line())
            print(by["socket rest x3 as-of"].line(by["socket rest x3 now"]))
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
