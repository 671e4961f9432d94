"""OpenLineage events merged into the fact store by their own time, in any arrival order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mdsd import facts as F
from mdsd.connectors.openlineage.mapping import observe
from mdsd.connectors.openlineage.parse import parse_lineage
from mdsd.hydration.writer import Writer
from store import FactStore
from tests.openlineage.events import RUN, facet, run_event

RUN_ID = f"aip://pipeline-run/openlineage/{RUN}"
T1, T2 = "2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    with FactStore(tmp_path / "facts") as opened:
        opened.install(F.SCHEMA)
        yield opened


def write(
    store: FactStore, *events: dict[str, Any], namespaces: dict[str, str] | None = None
) -> int:
    observed = [observe(parse_lineage(event), namespaces or {}) for event in events]
    return len(Writer(store).observe(observed, {"origin": "test"}))


def status(store: FactStore, at: str | None = None) -> Any:
    db = store.db() if at is None else store.db().valid_at(datetime.fromisoformat(at))
    e = db.entid(RUN_ID)
    return None if e is None or not db.exists(e) else db.get(e, F.attr_key("status"))


@pytest.mark.parametrize("order", ["in order", "complete first", "together"])
def test_start_then_complete_is_succeeded_whatever_arrives_first(
    store: FactStore, order: str
) -> None:
    start, complete = run_event("START", T1), run_event("COMPLETE", T2)
    if order == "in order":
        write(store, start)
        write(store, complete)
    elif order == "complete first":
        write(store, complete)
        write(store, start)
    else:
        write(store, complete, start)
    assert status(store) == "succeeded"
    assert status(store, "2025-03-01T10:30:00+00:00") == "running"
    assert status(store, "2025-03-01T09:59:00+00:00") is None  # the run did not exist yet
    db = store.db()
    run = db.entity(db.entid(RUN_ID))
    assert run[F.attr_key("started_at")] == "2025-03-01T10:00:00+00:00"
    assert run[F.attr_key("ended_at")] == "2025-03-01T11:00:00+00:00"


def test_a_redelivery_changes_nothing(store: FactStore) -> None:
    write(store, run_event("START", T1), run_event("COMPLETE", T2))
    last = store.last_tx
    assert write(store, run_event("COMPLETE", T2)) == 0
    assert write(store, run_event("START", T1)) == 0
    assert store.last_tx == last


def test_run_reads_and_writes_its_datasets_and_runs_its_job(store: FactStore) -> None:
    write(store, run_event("START", T1))
    db = store.db()
    run = db.entid(RUN_ID)
    assert run is not None
    out = {
        rel: {db.xid(t) for t in db.get(run, F.rel_attr(rel))}
        for rel in ("run_of", "reads", "writes")
    }
    assert out == {
        "run_of": {"aip://pipeline/openlineage/airflow/etl.orders"},
        "reads": {"aip://dataset/openlineage/pg%3A%2F%2Fdb/public.orders"},
        "writes": {"aip://dataset/openlineage/pg%3A%2F%2Fdb/public.daily"},
    }


def test_a_late_event_keeps_a_field_that_is_a_list_whole(store: FactStore) -> None:
    schema = {"_producer": "p", "_schemaURL": "u", "fields": [{"name": "id", "type": "INT"}]}
    inputs = [{"namespace": "pg://db", "name": "public.orders", "facets": {"schema": schema}}]
    write(store, run_event("COMPLETE", T2, inputs=inputs))
    write(store, run_event("START", T1, inputs=inputs))
    db = store.db()
    orders = db.entid("aip://dataset/openlineage/pg%3A%2F%2Fdb/public.orders")
    assert db.get(orders, F.attr_key("fields")) == [
        {"name": "id", "type": "INT", "description": None}
    ]


def test_a_mapped_namespace_names_the_source_entity(store: FactStore) -> None:
    inputs = [{"namespace": "warehouse", "name": "playback-events", "facets": {}}]
    write(store, run_event("START", T1, inputs=inputs), namespaces={"warehouse": "datasets"})
    db = store.db()
    run = db.entid(RUN_ID)
    assert [db.xid(t) for t in db.get(run, F.rel_attr("reads"))] == [
        "aip://dataset/datasets/playback-events"
    ]
    # described by its own source (hydrated from there), not by the event
    dataset = db.entid("aip://dataset/datasets/playback-events")
    assert db.get(dataset, F.STATUS) == F.STATUS_STUB


def test_a_late_event_lands_between_the_two_events_around_it(store: FactStore) -> None:
    """A RUNNING event delivered after COMPLETE holds from its own moment until COMPLETE's:
    the run's facet reads 1, 2, 3 over the three moments and 3 now."""
    t3 = "2025-03-01T12:00:00Z"
    write(store, run_event("START", T1, run_facets={"progress": facet(step=1)}))
    write(store, run_event("COMPLETE", t3, run_facets={"progress": facet(step=3)}))
    write(store, run_event("RUNNING", T2, run_facets={"progress": facet(step=2)}))

    def step(at: str | None = None) -> Any:
        db = store.db() if at is None else store.db().valid_at(datetime.fromisoformat(at))
        return db.get(db.entid(RUN_ID), F.attr_key("facet.progress"))["step"]

    moments = ("10:30", "11:30", "12:30")
    assert [step(f"2025-03-01T{m}:00+00:00") for m in moments] == [1, 2, 3]
    assert step() == 3
    assert status(store) == "succeeded"
    assert status(store, "2025-03-01T11:30:00+00:00") == "running"


@pytest.mark.parametrize("arrival", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_a_runs_creation_and_update_times_follow_its_events_whatever_their_order(
    tmp_path: Path, arrival: tuple[int, int, int]
) -> None:
    """Created at its earliest event and, at each moment, updated at the latest event up
    to then, however late the earlier ones came (newest first moved creation back once)."""
    moments = [T1, T2, "2025-03-01T12:00:00Z"]
    events = [
        run_event(kind, at)
        for kind, at in zip(("START", "RUNNING", "COMPLETE"), moments, strict=True)
    ]
    with FactStore(tmp_path / "facts") as store:
        store.install(F.SCHEMA)
        for i in arrival:
            write(store, events[i])
        db = store.db()
        e = db.entid(RUN_ID)
        for at, updated in (("10:30", T1), ("11:30", T2), ("12:30", moments[2])):
            then = db.valid_at(datetime.fromisoformat(f"2025-03-01T{at}:00+00:00"))
            assert then.get(e, F.CREATED_AT) == datetime.fromisoformat(T1), at
            assert then.get(e, F.UPDATED_AT) == datetime.fromisoformat(updated), at
        assert status(store) == "succeeded"
