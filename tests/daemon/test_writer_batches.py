"""Several hydration units in one transaction (``Writer.write_units``): the store ends up
saying what writing them one by one says, in fewer transactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd import facts as F
from mdsd.connectors import Hydrated
from mdsd.hydration.writer import Writer
from store import FactStore

USER = "aip://user/identity/ana"
PIPELINE = "aip://pipeline/orchestrator/daily"
RUN = "aip://pipeline-run/orchestrator/run-1"
DATASET = "aip://dataset/datasets/events"
VERSION = "aip://dataset-version/datasets/events@1"
NEVER_SEEN = "aip://dataset/datasets/raw"
CAUSE = {"origin": "test"}


def entity(xid: str, kind: EntityType, **fields: Any) -> NormalizedEntity:
    source, native = xid.split("/")[3], xid.split("/", 4)[4]
    return NormalizedEntity(
        id=xid,
        entity_type=kind,
        source=source,
        native_id=native,
        name=native,
        updated_at="2025-01-02T00:00:00Z",
        created_at="2025-01-01T00:00:00Z",
        **fields,
    )


def units(description: str = "daily") -> list[Hydrated]:
    """A run naming its pipeline, which names its dataset (with a version as its part)
    and an owner, and a dataset never described: referrers before what they refer to."""
    return [
        Hydrated([entity(RUN, EntityType.PIPELINE_RUN, relationships={Rel.RUN_OF: [PIPELINE]})]),
        Hydrated(
            [
                entity(
                    PIPELINE,
                    EntityType.PIPELINE,
                    description=description,
                    owners=[USER],
                    relationships={Rel.OUTPUTS: [DATASET]},
                )
            ]
        ),
        Hydrated(
            [
                entity(DATASET, EntityType.DATASET, relationships={Rel.DERIVED_FROM: [NEVER_SEEN]}),
                entity(
                    VERSION,
                    EntityType.DATASET_VERSION,
                    parent=DATASET,
                    relationships={Rel.VERSION_OF: [DATASET]},
                ),
            ]
        ),
    ]


def state(store: FactStore) -> dict[str, dict[str, Any]]:
    """Every entity's current attributes, references as external ids."""
    db = store.db()
    said: dict[str, dict[str, Any]] = {}
    for e, _ in db.entities_with(F.TYPE):
        xid = db.xid(e)
        assert xid is not None
        values = {}
        for attr, value in db.entity(e).items():
            if store.info(attr).is_ref:
                value = (
                    sorted(db.xid(v) for v in value) if isinstance(value, list) else db.xid(value)
                )
            values[attr] = value
        said[xid] = values
    return said


def test_units_together_say_what_they_say_one_by_one(tmp_path: Path) -> None:
    together, alone = FactStore(tmp_path / "together"), FactStore(tmp_path / "alone")
    try:
        for store in (together, alone):
            store.install(F.SCHEMA)
        outcomes = Writer(together).write_units([(u, {}) for u in units()], CAUSE)
        assert outcomes is not None and len(outcomes) == 3
        assert {o.report.tx for o in outcomes if o.report is not None} == {1}
        for unit in units():
            Writer(alone).write(unit, {}, CAUSE)
        assert together.last_tx == 1 < alone.last_tx
        assert state(together) == state(alone)
        said = state(together)
        # described in the batch: resolved, never a stub; named only: a stub
        assert said[PIPELINE][F.STATUS] == F.STATUS_RESOLVED
        assert said[NEVER_SEEN][F.STATUS] == F.STATUS_STUB
    finally:
        together.close()
        alone.close()


def test_unchanged_and_changed_units_are_told_apart(writer: Writer) -> None:
    writer.write_units([(u, {}) for u in units()], CAUSE)
    again = writer.write_units([(u, {}) for u in units()], CAUSE)
    assert again is not None and all(o.report is None and not o.stale for o in again)
    changed = writer.write_units([(u, {}) for u in units(description="hourly")], CAUSE)
    assert changed is not None
    assert [o.report is not None for o in changed] == [False, True, False]


def test_a_stale_unit_is_left_out_and_the_rest_written(writer: Writer) -> None:
    writer.write(units()[1], {}, CAUSE)
    older = units(description="older")
    older[1].entities[0].updated_at = "2024-12-31T00:00:00Z"
    outcomes = writer.write_units([(u, {}) for u in older], CAUSE)
    assert outcomes is not None
    assert [o.stale for o in outcomes] == [[], [PIPELINE], []]
    db = writer.store.db()
    assert db.get(db.entid(PIPELINE), F.DESCRIPTION) == "daily"
    assert db.entid(RUN) is not None and db.entid(VERSION) is not None


def test_units_sharing_an_entity_are_not_written_together(writer: Writer) -> None:
    shared = [units()[1], units()[1]]
    assert writer.write_units([(u, {}) for u in shared], CAUSE) is None
    assert writer.store.last_tx == 0
