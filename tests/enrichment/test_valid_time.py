"""Inferred edges in valid time (contract 4): an edge holds from when all of its support
held (the latest start along its path) and is retracted when mds sees the support go;
history keeps the time it held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from enrichment_fakes import ET, aip, cell_id

from mds.wire.model import Rel
from mdsd import facts as F
from mdsd.enrichment.inference import Evaluator, Work, edge_xid
from mdsd.enrichment.readers import PointReader, ScanReader
from mdsd.enrichment.rules import TESTED_IN
from store import Add, Created, Db, FactStore, Op, Retract

I1 = aip(ET.MODEL_INSTANCE, "ranker-v5")
R1 = aip(ET.PIPELINE_RUN, "train-1")
C2 = cell_id("12345", 2)
T1 = aip(ET.AB_TEST, "12345")


def at(month: int) -> datetime:
    return datetime(2024, month, 1, tzinfo=UTC)


def entity(xid: str, kind: ET, since: datetime) -> list[Op]:
    return [
        Created(xid, since),
        Add(xid, F.TYPE, str(kind), valid=since),
        Add(xid, F.STATUS, F.STATUS_RESOLVED, valid=since),
    ]


def supported(store: FactStore, produced: datetime, ran_for: datetime, cell_of: datetime) -> None:
    """instance -produced_by-> run -ran_for-> cell -cell_of-> test, each hop from its time."""
    store.transact(
        [
            *entity(I1, ET.MODEL_INSTANCE, at(1)),
            *entity(R1, ET.PIPELINE_RUN, at(1)),
            *entity(C2, ET.AB_TEST_CELL, at(1)),
            *entity(T1, ET.AB_TEST, at(1)),
            Add(I1, F.rel_attr(Rel.PRODUCED_BY), R1, valid=produced),
            Add(R1, F.rel_attr(Rel.RAN_FOR), C2, valid=ran_for),
            Add(C2, F.rel_attr(Rel.CELL_OF), T1, valid=cell_of),
        ],
        {"origin": "test"},
    )


def infer(store: FactStore, full: bool) -> None:
    db = store.db()
    work = Work()
    if full:
        reader = ScanReader(db, TESTED_IN)
        evaluator = Evaluator(reader, TESTED_IN, work)
        anchors = reader.anchors(TESTED_IN)
    else:
        evaluator = Evaluator(PointReader(db), TESTED_IN, work)
        anchors = [e for e in (db.entid(I1),) if e is not None]
    outcome = evaluator.reconcile(anchors)
    store.transact(outcome.ops, {"origin": "enrichment"})


def inferred_of(db: Db) -> set[str | None]:
    e = db.entid(I1)
    assert e is not None
    return {db.xid(t) for _, t in db.refs_out(e, [F.rel_attr(Rel.TESTED_IN)])}


@pytest.mark.parametrize("full", [True, False], ids=["full pass", "incremental"])
def test_an_inferred_edge_holds_from_the_latest_start_of_its_support(
    store: FactStore, full: bool
) -> None:
    supported(store, produced=at(3), ran_for=at(5), cell_of=at(2))
    infer(store, full)
    db = store.db()
    e = db.entid(I1)
    assert e is not None
    assert db.valid_from(e, F.rel_attr(Rel.TESTED_IN)) == at(5)
    assert inferred_of(db.valid_at(at(4))) == set()
    assert inferred_of(db.valid_at(at(6))) == {T1, C2}
    edge = db.entid(edge_xid(Rel.TESTED_IN, I1, T1))
    assert edge is not None
    assert db.valid_from(edge, F.EDGE_PATH) == at(5)
    assert db.valid_at(at(4)).get(edge, F.EDGE_PATH) is None


def test_an_edge_goes_when_mds_sees_its_support_go_and_history_keeps_it(
    store: FactStore,
) -> None:
    supported(store, produced=at(3), ran_for=at(5), cell_of=at(2))
    infer(store, full=False)
    gone = store.transact([Retract(R1, F.rel_attr(Rel.RAN_FOR), C2)], {"origin": "test"})
    assert gone is not None
    infer(store, full=False)
    db = store.db()
    assert inferred_of(db) == set()
    assert inferred_of(db.valid_at(at(6))) == {T1, C2}, "it held from May until mds saw it go"
    # retracted when mds saw the support go, not before: just before then it still held
    assert inferred_of(db.valid_at(gone.at - timedelta(microseconds=1))) == {T1, C2}
