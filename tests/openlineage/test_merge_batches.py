"""Events merged many at a time (``merging.merge_layers``) say what they say one at a time.

The hydrator merges a batch of queued units together, in a few transactions instead of one
per event; the facts must not depend on it: a batch, on an empty store or on what earlier
batches wrote, leaves every entity reading the same at every moment as when each of its
events was written by itself, oldest first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdsd import facts as F
from mdsd.connectors.base import Observed
from mdsd.connectors.openlineage.mapping import observe
from mdsd.connectors.openlineage.parse import parse_lineage
from mdsd.hydration.merging import merge_layers
from mdsd.hydration.writer import Writer
from store import Db, FactStore, Interpose
from tests.openlineage.events import dataset, facet, run_event

RUNS = [f"3f5e83fa-3480-44ff-99c5-ff943904e5e{i}" for i in range(3)]
JOBS = ["etl.orders", "etl.users"]
TABLES = ["public.a", "public.b", "public.c"]
MOMENTS = [f"2025-03-01T10:{m:02d}:00Z" for m in range(0, 48, 4)]


def fields(width: int) -> dict[str, Any]:
    return facet(fields=[{"name": f"c{i}", "type": "INT"} for i in range(width)])


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A run event of a small world, so that runs share jobs and datasets and moments."""
    kind = draw(st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL"]))
    read = draw(st.sampled_from(TABLES))
    written = draw(st.sampled_from(TABLES))
    run = draw(st.integers(0, len(RUNS) - 1))
    event = run_event(
        kind,
        draw(st.sampled_from(MOMENTS)),
        run=RUNS[run],
        job=JOBS[run % len(JOBS)],  # a run is of one job
        inputs=[dataset("pg://db", read)],
        outputs=[dataset("pg://db", written, schema=fields(draw(st.integers(1, 3))))],
    )
    owner = draw(st.sampled_from([None, "ann", "bob"]))
    if owner is not None:
        owners = [{"name": f"user:{owner}@example.com"}]
        event["job"]["facets"]["ownership"] = facet(owners=owners)
    if kind == "FAIL":
        event["run"]["facets"]["errorMessage"] = facet(
            message=draw(st.sampled_from(["boom", "disk full"])), programmingLanguage="python"
        )
    return event


def observed(event: dict[str, Any]) -> Observed:
    return observe(parse_lineage(event), {})


@contextmanager
def fresh_store() -> Iterator[FactStore]:
    with tempfile.TemporaryDirectory() as tmp, FactStore(Path(tmp) / "facts") as store:
        store.install(F.SCHEMA)
        yield store


def one_by_one(store: FactStore, batch: list[Observed]) -> None:
    """As events were written before batches: each alone, oldest first."""
    writer = Writer(store)
    for observation in sorted(batch, key=lambda o: o.at):
        writer.observe([observation], {"origin": "test"})


def picture(db: Db, *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every entity by its id, references by id too (entity numbers differ by store)."""
    out: dict[str, Any] = {}
    for e, _ in db.entities_with(F.TYPE):
        if not db.exists(e):
            continue
        said: dict[str, Any] = {}
        for attr, value in db.entity(e).items():
            if attr in leave_out:
                continue
            if db.store.info(attr).is_ref:
                refs = value if isinstance(value, list) else [value]
                value = sorted(str(db.xid(r)) for r in refs)
            said[attr] = value
        out[str(db.xid(e))] = said
    return out


def pictures(store: FactStore, **kwargs: Any) -> list[dict[str, Any]]:
    """The store now and at each moment events happen, and between them."""
    db = store.db()
    moments = [datetime.fromisoformat(m.replace("Z", "+00:00")) for m in MOMENTS]
    between = [m.replace(minute=m.minute + 2) for m in moments]
    return [picture(db, **kwargs)] + [
        picture(db.valid_at(m), **kwargs) for m in sorted(moments + between)
    ]


SLOW_OK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW_OK
@given(st.lists(events(), min_size=1, max_size=12))
def test_a_batch_merges_to_the_facts_of_its_events_one_by_one(
    sent: list[dict[str, Any]],
) -> None:
    batch = [observed(event) for event in sent]
    with fresh_store() as alone, fresh_store() as together:
        one_by_one(alone, batch)
        Writer(together).observe(batch, {"origin": "test"})
        assert pictures(together) == pictures(alone)


@SLOW_OK
@given(st.lists(events(), min_size=1, max_size=12), st.data())
def test_batches_in_any_order_merge_as_their_events_one_by_one(
    sent: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Later batches bring late events (older ``eventTime``) onto what earlier ones wrote."""
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(sent) - 1)))))
    order = data.draw(st.permutations(range(len(sent))))
    arrived = [observed(sent[i]) for i in order]
    batches = [arrived[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrived)], strict=True)]
    with fresh_store() as alone, fresh_store() as batched:
        for batch in batches:
            one_by_one(alone, batch)
            Writer(batched).observe(batch, {"origin": "test"})
        assert pictures(batched) == pictures(alone)


def test_a_late_event_inside_a_batch_lands_at_its_own_time() -> None:
    """The output's schema said 1 column at 10:00 and 3 at 10:20; a batch of other runs
    brings, late, the 10:10 event that said 2: it holds from 10:10 to 10:20."""

    def wrote(run: int, at: str, width: int) -> Observed:
        table = dataset("pg://db", "public.a", schema=fields(width))
        return observed(run_event("COMPLETE", at, run=RUNS[run], outputs=[table]))

    with fresh_store() as store:
        writer = Writer(store)
        writer.observe([wrote(0, MOMENTS[0], 1), wrote(1, MOMENTS[5], 3)], {})
        others = [observed(run_event("START", MOMENTS[i], run=RUNS[2])) for i in (1, 6)]
        writer.observe([others[0], wrote(2, "2025-03-01T10:10:00Z", 2), others[1]], {})
        db = store.db()
        table = db.entid("aip://dataset/openlineage/pg%3A%2F%2Fdb/public.a")
        assert table is not None

        def width(at: str) -> int:
            view = db.valid_at(datetime.fromisoformat(at)) if at else db
            return len(view.get(table, F.attr_key("fields")))

        assert [width(f"2025-03-01T10:{m}:00+00:00") for m in ("05", "12", "21")] == [1, 2, 3]
        assert width("") == 3


def test_an_attribute_said_at_several_moments_is_one_transaction_a_moment() -> None:
    """Three events of one run: its status is stated at three moments, so three layers;
    what only moves a start back (identity, edges, a namespace) is stated once, in the
    first."""
    sent = [
        run_event("COMPLETE", MOMENTS[2]),
        run_event("START", MOMENTS[0]),
        run_event("RUNNING", MOMENTS[1]),
    ]
    with fresh_store() as store:
        layers = merge_layers(store.db(), [observed(e) for e in sent], Writer(store)._stub)
        status = F.attr_key("status")
        said = [
            [op.values[0] for op in ops if isinstance(op, Interpose) and op.attr == status]
            for ops in layers
        ]
        assert said == [["running"], ["running"], ["succeeded"]]
        namespaces = [
            [op.e for op in ops if getattr(op, "attr", None) == F.attr_key("namespace")]
            for ops in layers
        ]  # part of the job's and datasets' ids: said once, like their identity
        assert sorted(namespaces[0]) == sorted(
            [
                "aip://pipeline/openlineage/airflow/etl.orders",
                "aip://dataset/openlineage/pg%3A%2F%2Fdb/public.orders",
                "aip://dataset/openlineage/pg%3A%2F%2Fdb/public.daily",
            ]
        )
        assert namespaces[1:] == [[], []]
        runs_of = [op for op in layers[0] if getattr(op, "attr", None) == F.rel_attr("run_of")]
        assert len(runs_of) == 1 and all(
            getattr(op, "attr", None) != F.rel_attr("run_of") for ops in layers[1:] for op in ops
        )
        reports = Writer(store).observe([observed(e) for e in sent], {"origin": "test"})
        assert len(reports) == 3
        db = store.db()
        run = db.entid(f"aip://pipeline-run/openlineage/{sent[0]['run']['runId']}")
        assert run is not None and db.get(run, status) == "succeeded"
        midway = db.valid_at(datetime.fromisoformat("2025-03-01T10:06:00+00:00"))
        assert midway.get(run, status) == "running"


@SLOW_OK
@given(st.lists(events(), min_size=1, max_size=8, unique_by=lambda e: e["eventTime"]), st.data())
def test_events_in_any_arrival_order_merge_as_in_the_order_of_their_times(
    sent: list[dict[str, Any]], data: st.DataObject
) -> None:
    """A run's state is the merge of its events by ``eventTime``, however late each came
    (events at one moment are not ordered by their time: the later delivered wins those).
    This found a creation moved back twice by late events starting at the first move, and
    a late facet outliving the later event that said the same facet again."""
    order = data.draw(st.permutations(range(len(sent))))
    with fresh_store() as in_time, fresh_store() as arrived:
        one_by_one(in_time, [observed(event) for event in sent])
        for i in order:
            Writer(arrived).observe([observed(sent[i])], {"origin": "test"})
        assert pictures(arrived) == pictures(in_time)
