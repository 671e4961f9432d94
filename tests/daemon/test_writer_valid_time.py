"""The writer's valid times (contract 4), read back from a real fact store.

An entity exists from its ``created_at``; what its source fixes at creation holds from
then; what changes is known from ``updated_at``, and before that is unknown; stubs,
deletions and undated changes are known from when mds wrote them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd import facts as F
from mdsd.connectors import Gone, Hydrated
from mdsd.connectors.orchestrator import OrchestratorConnector
from mdsd.connectors.registry import RegistryConnector
from mdsd.hydration.writer import Writer
from store import Db

INSTANCE = "aip://model-instance/registry/churn-v1"
MODEL = "aip://model/registry/churn"
RUN = "aip://pipeline-run/orchestrator/train-churn-1"
RUN_2 = "aip://pipeline-run/orchestrator/train-churn-2"
FEATURE = "aip://feature/featurestore/tenure"
CELL = "aip://ab-test-cell/experiments/7/2"
CAUSE = {"origin": "test"}


def at(month: int, day: int = 1, year: int = 2024) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def instance(
    status: str, updated: str | None, run: str = RUN, created: str | None = "2024-06-01T00:00:00Z"
) -> Hydrated:
    entity = NormalizedEntity(
        id=INSTANCE,
        entity_type=EntityType.MODEL_INSTANCE,
        source="registry",
        native_id="churn-v1",
        name="churn-v1",
        attributes={"version": 1, "status": status},
        relationships={
            Rel.INSTANCE_OF: [MODEL],
            Rel.PRODUCED_BY: [run],
            Rel.USES_FEATURE: [FEATURE],
        },
        created_at=created,
        updated_at=updated,
    )
    result = RegistryConnector.timed(Hydrated([entity]))  # the connector's declaration
    assert isinstance(result, Hydrated)
    return result


def run_in_cell(cells: list[str], ended: str) -> Hydrated:
    entity = NormalizedEntity(
        id=RUN,
        entity_type=EntityType.PIPELINE_RUN,
        source="orchestrator",
        native_id="train-churn-1",
        name="train-churn-1",
        attributes={"status": "succeeded"},
        relationships={Rel.RAN_FOR: cells},
        created_at="2024-05-30T00:00:00Z",
        updated_at=ended,
    )
    result = OrchestratorConnector.timed(Hydrated([entity]))
    assert isinstance(result, Hydrated)
    return result


def targets(db: Db, xid: str, rel: Rel) -> set[str | None]:
    e = db.entid(xid)
    assert e is not None, f"{xid} is not there"
    return {db.xid(t) for _, t in db.refs_out(e, [F.rel_attr(rel)])}


def attribute(db: Db, xid: str, attr: str) -> object:
    e = db.entid(xid)
    assert e is not None, f"{xid} is not there"
    return db.get(e, attr)


def test_an_entity_is_absent_before_it_was_created(writer: Writer) -> None:
    writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE)
    db = writer.store.db()
    assert db.valid_at(at(5)).entid(INSTANCE) is None
    assert db.valid_at(at(6, 2)).entid(INSTANCE) is not None
    assert db.entid(INSTANCE) is not None


def test_fixed_links_hold_from_creation_and_changes_from_updated_at(writer: Writer) -> None:
    writer.write(instance("production", "2024-09-01T00:00:00Z"), {}, CAUSE)
    db = writer.store.db()
    july = db.valid_at(at(7))
    assert targets(july, INSTANCE, Rel.PRODUCED_BY) == {RUN}
    assert targets(july, INSTANCE, Rel.INSTANCE_OF) == {MODEL}
    assert targets(july, INSTANCE, Rel.USES_FEATURE) == {FEATURE}
    assert attribute(july, INSTANCE, F.NAME) == "churn-v1"
    assert attribute(july, INSTANCE, F.attr_key("version")) == 1
    # the status is unknown before the source says when it was last changed: never guessed
    assert attribute(july, INSTANCE, F.attr_key("status")) is None
    assert attribute(db.valid_at(at(10)), INSTANCE, F.attr_key("status")) == "production"
    e = db.entid(INSTANCE)
    assert e is not None
    assert db.valid_from(e, F.rel_attr(Rel.PRODUCED_BY)) == at(6)
    assert db.valid_from(e, F.attr_key("status")) == at(9)
    assert db.valid_from(e, F.UPDATED_AT) == at(9)


def test_without_updated_at_changes_are_known_from_when_mds_saw_them(writer: Writer) -> None:
    report = writer.write(instance("staged", None), {}, CAUSE).report
    assert report is not None
    db = writer.store.db()
    e = db.entid(INSTANCE)
    assert e is not None
    assert db.valid_from(e, F.rel_attr(Rel.PRODUCED_BY)) == at(6)
    assert db.valid_from(e, F.attr_key("status")) == report.at


def test_stubs_are_known_from_when_mds_wrote_them(writer: Writer) -> None:
    report = writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE).report
    assert report is not None
    db = writer.store.db()
    run = db.entid(RUN)
    assert run is not None and db.get(run, F.STATUS) == F.STATUS_STUB
    assert db.valid_from(run, F.STATUS) == report.at
    # the link is fixed from the instance's creation; the stub it points at is not there yet
    assert db.valid_at(at(7)).entid(RUN) is None


def test_undated_changes_are_known_only_from_when_mds_saw_them(writer: Writer) -> None:
    report = writer.write(run_in_cell([CELL], "2024-06-01T00:00:00Z"), {}, CAUSE).report
    assert report is not None
    db = writer.store.db()
    e = db.entid(RUN)
    assert e is not None
    assert db.valid_from(e, F.attr_key("status")) == at(6)
    # the run's end does not date its cell assignment
    assert db.valid_from(e, F.rel_attr(Rel.RAN_FOR)) == report.at
    assert targets(db.valid_at(at(7)), RUN, Rel.RAN_FOR) == set()
    assert targets(db, RUN, Rel.RAN_FOR) == {CELL}


def test_a_changed_fixed_link_is_dated_as_a_change_and_history_keeps_the_old(
    writer: Writer,
) -> None:
    writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE)
    writer.write(instance("staged", "2024-11-01T00:00:00Z", run=RUN_2), {}, CAUSE)
    db = writer.store.db()
    assert targets(db.valid_at(at(7)), INSTANCE, Rel.PRODUCED_BY) == {RUN}
    assert targets(db.valid_at(at(10)), INSTANCE, Rel.PRODUCED_BY) == {RUN}
    assert targets(db.valid_at(at(12)), INSTANCE, Rel.PRODUCED_BY) == {RUN_2}


def test_a_later_change_leaves_what_held_before_it(writer: Writer) -> None:
    writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE)
    writer.write(instance("production", "2024-11-01T00:00:00Z"), {}, CAUSE)
    db = writer.store.db()
    assert attribute(db.valid_at(at(10)), INSTANCE, F.attr_key("status")) == "staged"
    assert attribute(db.valid_at(at(12)), INSTANCE, F.attr_key("status")) == "production"
    assert targets(db.valid_at(at(7)), INSTANCE, Rel.PRODUCED_BY) == {RUN}


def test_unchanged_input_writes_nothing(writer: Writer) -> None:
    writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE)
    again = writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE)
    assert again.report is None or not again.report.datoms


def test_deletion_is_known_from_when_mds_saw_it(writer: Writer) -> None:
    writer.write(instance("production", "2024-09-01T00:00:00Z"), {}, CAUSE)
    report = writer.write(Gone(INSTANCE), {}, CAUSE).report
    assert report is not None
    db = writer.store.db()
    assert attribute(db, INSTANCE, F.STATUS) == F.STATUS_DELETED
    before = db.valid_at(at(10))
    assert attribute(before, INSTANCE, F.STATUS) == F.STATUS_RESOLVED
    assert targets(before, INSTANCE, Rel.PRODUCED_BY) == {RUN}


def test_a_stub_described_later_exists_from_its_creation(writer: Writer) -> None:
    writer.write(instance("staged", "2024-09-01T00:00:00Z"), {}, CAUSE)
    writer.write(run_in_cell([], "2024-06-01T00:00:00Z"), {}, CAUSE)
    db = writer.store.db()
    june = db.valid_at(at(6, 15))
    assert june.entid(RUN) is not None
    assert attribute(june, RUN, F.NAME) == "train-churn-1"
    assert attribute(june, RUN, F.STATUS) == F.STATUS_RESOLVED
    assert attribute(db, RUN, F.STATUS) == F.STATUS_RESOLVED


def run_with_loss(points: list[tuple[str, float]]) -> Hydrated:
    """A run whose ``loss`` was logged at ``points`` (time, value)."""
    run = NormalizedEntity(RUN, EntityType.PIPELINE_RUN, "orchestrator", "train-1", "train-1")
    run.created_at, run.updated_at = "2024-06-01T00:00:00Z", "2024-06-01T03:00:00Z"
    run.series["metric.loss"] = points
    return Hydrated([run])


def test_a_series_is_stated_point_by_point_at_its_own_moments(writer: Writer) -> None:
    """A metric's history: each value holds from when it was logged, so the graph as of
    any moment shows the value of then; a re-read writes only the points not yet held."""
    first = [("2024-06-01T01:00:00Z", 0.9), ("2024-06-01T02:00:00Z", 0.5)]
    outcome = writer.write(run_with_loss(first), {}, CAUSE)
    assert len(outcome.series) == 2, "one transaction per point"
    loss = F.attr_key("metric.loss")

    def value_at(moment: datetime) -> object:
        db = writer.store.db().valid_at(moment)
        e = db.entid(RUN)
        assert e is not None
        return db.get(e, loss)

    assert value_at(datetime(2024, 6, 1, 0, 30, tzinfo=UTC)) is None, "not logged yet"
    assert value_at(datetime(2024, 6, 1, 1, 30, tzinfo=UTC)) == 0.9
    assert value_at(datetime(2024, 6, 1, 2, 30, tzinfo=UTC)) == 0.5
    assert writer.write(run_with_loss(first), {}, CAUSE).series == [], "nothing new"
    more = writer.write(run_with_loss([*first, ("2024-06-01T03:00:00Z", 0.2)]), {}, CAUSE)
    assert [d.v for r in more.series for d in r.datoms if d.added] == [0.2]
    assert value_at(datetime(2024, 6, 1, 1, 30, tzinfo=UTC)) == 0.9, "the past is kept"
    assert value_at(datetime(2024, 6, 2, tzinfo=UTC)) == 0.2
