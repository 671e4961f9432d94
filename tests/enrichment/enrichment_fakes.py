"""Builders for small graphs, a scriptable in-memory source, the ports the enrichment
room is handed, and the simulator's truth.

Graphs are written through the daemon's own ``Writer``, so tests see exactly the facts
hydration produces: parts with parents, stubs for references, deletions as the writer
does them. ``Queue`` and ``FakeJournal`` stand in for intake and the journal, so the
enrichment loop and the reconciler run without a daemon.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mds.wire.model import EntityType, NormalizedEntity, Rel, parse_aip_id
from mdsd import facts as F
from mdsd.api.settings import ApiConfig
from mdsd.config import Config, DaemonConfig, EnrichmentConfig, ReconcileConfig
from mdsd.connectors import Connector, Gone, Hydrated, HydrationResult, Listed, SourceUnavailable
from mdsd.connectors.ids import HOME, ab_test_of_cell, cell_native, ref
from mdsd.daemon import Daemon
from mdsd.hydration.writer import Writer
from mdsd.intake.journal import QueuedEvent
from store import Db, FactStore, TxReport

ET = EntityType


def aip(entity_type: EntityType, native: str) -> str:
    return ref(entity_type, native)


def cell_id(test: str, number: int) -> str:
    return aip(ET.AB_TEST_CELL, cell_native(test, str(number)))


def entity(
    entity_type: EntityType,
    native: str,
    relationships: Mapping[Rel, Iterable[str]] | None = None,
    **fields: Any,
) -> NormalizedEntity:
    return NormalizedEntity(
        id=aip(entity_type, native),
        entity_type=entity_type,
        source=HOME[entity_type],
        native_id=native,
        name=fields.pop("name", native),
        relationships={rel: list(ids) for rel, ids in (relationships or {}).items()},
        **fields,
    )


def instance_entity(
    native: str, run: str | None = None, model: str | None = None, features: Iterable[str] = ()
) -> NormalizedEntity:
    rels: dict[Rel, list[str]] = {Rel.USES_FEATURE: [aip(ET.FEATURE, f) for f in features]}
    if run:
        rels[Rel.PRODUCED_BY] = [aip(ET.PIPELINE_RUN, run)]
    if model:
        rels[Rel.INSTANCE_OF] = [aip(ET.MODEL, model)]
    return entity(ET.MODEL_INSTANCE, native, rels)


def run_entity(native: str, cells: Iterable[tuple[str, int]] = ()) -> NormalizedEntity:
    return entity(ET.PIPELINE_RUN, native, {Rel.RAN_FOR: [cell_id(t, n) for t, n in cells]})


def ab_test_entities(test: str, cells: Iterable[int] = (1, 2)) -> list[NormalizedEntity]:
    unit = aip(ET.AB_TEST, test)
    parts = [
        entity(
            ET.AB_TEST_CELL,
            cell_native(test, str(n)),
            {Rel.CELL_OF: [unit]},
            name=f"cell-{n}",
            parent=unit,
        )
        for n in cells
    ]
    return [entity(ET.AB_TEST, test, description=f"test {test}"), *parts]


class Graph:
    """Writes units the way hydration does; ``on_commit`` sees every transaction."""

    def __init__(self, store: FactStore, on_commit: Callable[[TxReport], None] | None = None):
        self.store = store
        self.writer = Writer(store)
        self.on_commit = on_commit

    def write(self, result: HydrationResult, owners: Mapping[str, list[str]] | None = None):
        report = self.writer.write(result, owners or {}, {"origin": "test"}).report
        if report is not None and self.on_commit is not None:
            self.on_commit(report)
        return report

    def put(self, *entities: NormalizedEntity) -> TxReport | None:
        return self.write(Hydrated(list(entities)))

    def instance(self, native: str, **kw: Any) -> TxReport | None:
        return self.put(instance_entity(native, **kw))

    def run(self, native: str, cells: Iterable[tuple[str, int]] = ()) -> TxReport | None:
        return self.put(run_entity(native, cells))

    def test(self, test: str, cells: Iterable[int] = (1, 2)) -> TxReport | None:
        return self.put(*ab_test_entities(test, cells))

    def gone(self, entity_type: EntityType, native: str) -> TxReport | None:
        return self.write(Gone(aip(entity_type, native)))

    def chain(self, instance: str, run: str, test: str, cell: int = 1) -> None:
        """instance -produced_by-> run -ran_for-> cell -cell_of-> test, all resolved."""
        self.test(test, cells=sorted({1, 2, cell}))
        self.run(run, [(test, cell)])
        self.instance(instance, run=run)


def inferred_edges(db: Db) -> set[tuple[str, str]]:
    """Every inferred edge the view holds, as (instance id, test or cell id)."""
    out = set()
    for source, target in db.entities_with(F.rel_attr(Rel.TESTED_IN)):
        out.add((db.xid(source) or "", db.xid(target) or ""))
    return out


def edge_entities(db: Db) -> set[tuple[str, str]]:
    """The reified edges the view holds, as (source id, target id)."""
    out = set()
    for edge, source in db.entities_with(F.EDGE_SOURCE):
        target = db.get(edge, F.EDGE_TARGET)
        out.add((db.xid(source) or "", db.xid(target) or ""))
    return out


def expected_inferred(truth: Mapping[str, Any]) -> set[tuple[str, str]]:
    """What the simulator's raw records imply: instance.pipeline_run_id -> the run's
    ab_test_cells -> tests that exist and still have that cell."""
    records = truth["collections"]
    out = set()
    for native, instance in records["instances"].items():
        run = records["pipeline-runs"].get(instance.get("pipeline_run_id") or "")
        if run is None:
            continue
        for entry in run.get("ab_test_cells") or []:
            test = records["tests"].get(str(entry["test_id"]))
            if test is None:
                continue
            if not any(c["cell_number"] == entry["cell_number"] for c in test["cells"]):
                continue
            source = aip(ET.MODEL_INSTANCE, native)
            out.add((source, aip(ET.AB_TEST, str(entry["test_id"]))))
            out.add((source, cell_id(str(entry["test_id"]), entry["cell_number"])))
    return out


class FakeSource(Connector):
    """An in-memory source: ``units`` maps unit id -> its entities (absent: 404); units in
    ``down`` fail as unavailable; ``listing_fails`` breaks the listing half-way."""

    events: dict[str, Any] = {}

    def __init__(self, source: str) -> None:
        self.source = source
        self.units: dict[str, list[NormalizedEntity]] = {}
        self.down: set[str] = set()
        self.listing_fails = False
        self.hydrated: list[str] = []

    def add(self, *entities: NormalizedEntity) -> None:
        self.units[entities[0].id] = list(entities)

    @classmethod
    def target_of(cls, event_type: str, ids: Mapping[str, str]) -> str:
        raise NotImplementedError

    @classmethod
    def unit_of(cls, entity_id: str) -> str:
        if entity_id.startswith("aip://ab-test-cell/"):
            native = entity_id.split("/", 4)[4]
            return aip(ET.AB_TEST, ab_test_of_cell(native))
        return entity_id

    async def hydrate(self, unit_id: str) -> HydrationResult:
        self.hydrated.append(unit_id)
        if unit_id in self.down:
            raise SourceUnavailable(f"{unit_id}: injected outage")
        entities = self.units.get(unit_id)
        return Gone(unit_id) if entities is None else Hydrated(list(entities))

    async def list_units(self) -> AsyncIterator[Listed]:
        for i, (unit, entities) in enumerate(sorted(self.units.items())):
            if self.listing_fails and i >= len(self.units) // 2:
                raise SourceUnavailable("listing: injected outage")
            yield Listed(unit, entities[0].updated_at)


def daemon_config(data_dir: Path, **enrichment: float) -> Config:
    return Config(
        daemon=DaemonConfig(data_dir=str(data_dir)),
        enrichment=EnrichmentConfig(
            **{"interval_seconds": 30.0, "retry_seconds": 0.3, **enrichment}  # type: ignore[arg-type]
        ),
        reconcile=ReconcileConfig(interval_seconds=3600.0),
        api=ApiConfig(read_processes=0),  # a daemon per test: reads in-process
    )


async def start_daemon(config: Config, sources: dict[str, FakeSource]) -> Daemon:
    """A started daemon whose connectors are ``sources`` (shared with its hydrator)."""
    daemon = Daemon(config)
    await daemon.start()
    daemon.connectors.clear()
    daemon.connectors.update(sources)
    daemon.intake.sources = set(sources)
    return daemon


class Queue:
    """The ``Enqueue`` port: records what was queued (and from where); hydrates nothing."""

    def __init__(self) -> None:
        self.events: list[tuple[str, QueuedEvent]] = []

    async def __call__(self, events: list[QueuedEvent], origin: str) -> int:
        self.events += [(origin, event) for event in events]
        return len(events)

    @property
    def units(self) -> list[str]:
        return [event.unit for _, event in self.events]


class FakeJournal:
    """The journal operations enrichment uses: units waiting for hydration (``waiting``),
    and the units recorded as enriched."""

    def __init__(self) -> None:
        self.waiting: list[str] = []
        self.enriched: list[str] = []
        #: unit -> when it was last read (epoch seconds); units never read are absent
        self.read_at: dict[str, float] = {}

    async def pending(self) -> list[tuple[str, str, int]]:
        return [(parse_aip_id(unit).source, unit, seq) for seq, unit in enumerate(self.waiting, 1)]

    async def unit_times(self) -> dict[str, tuple[float | None, float | None]]:
        return {unit: (at, None) for unit, at in self.read_at.items()}

    async def record_enriched(self, units: Iterable[str]) -> None:
        self.enriched += units


def unit_of(sources: Mapping[str, Connector]) -> Callable[[str], str | None]:
    """The ``UnitOf`` port over ``sources``: a unit, or None for a source not configured."""

    def of(xid: str) -> str | None:
        source = sources.get(parse_aip_id(xid).source)
        return source.unit_of(xid) if source is not None else None

    return of


def committing(store: FactStore, then: Callable[[TxReport], None]) -> Callable[..., Any]:
    """The ``Commit`` port: one transaction in ``store``, its report handed to ``then``."""

    def commit(ops: Sequence[Any], meta: dict[str, Any]) -> TxReport | None:
        report = store.transact(ops, meta)
        if report is not None:
            then(report)
        return report

    return commit
