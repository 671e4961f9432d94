"""The writer's guard against going backwards: the source's updated_at never regresses."""

from __future__ import annotations

from datetime import UTC, datetime

from mds.wire.model import EntityType, NormalizedEntity
from mdsd import facts as F
from mdsd.connectors import Hydrated
from mdsd.hydration.writer import Writer, parse_instant

MODEL = "aip://model/registry/churn"


def model(description: str, updated_at: str | None) -> Hydrated:
    return Hydrated(
        [
            NormalizedEntity(
                id=MODEL,
                entity_type=EntityType.MODEL,
                source="registry",
                native_id="churn",
                name="churn",
                description=description,
                updated_at=updated_at,
            )
        ]
    )


def description(writer: Writer) -> str | None:
    db = writer.store.db()
    e = db.entid(MODEL)
    assert e is not None
    value = db.get(e, F.DESCRIPTION)
    return None if value is None else str(value)


def test_older_data_never_overwrites_newer(writer: Writer) -> None:
    writer.write(model("v2", "2025-01-02T00:00:00+02:00"), {}, {"origin": "test"})  # 22:00Z
    outcome = writer.write(model("v1", "2025-01-01T21:59:59Z"), {}, {"origin": "test"})
    assert outcome.stale == [MODEL] and outcome.report is None
    assert description(writer) == "v2"
    # instants compare, not strings: 23:00Z on the 1st is after midnight +02:00 on the 2nd
    newer = writer.write(model("v3", "2025-01-01T23:00:00Z"), {}, {"origin": "test"})
    assert newer.report is not None and description(writer) == "v3"


def test_a_time_without_a_zone_is_not_an_instant(writer: Writer) -> None:
    assert parse_instant("2025-01-02T00:00:00") is None
    assert parse_instant("2025-01-02T00:00:00Z") == datetime(2025, 1, 2, tzinfo=UTC)
    writer.write(model("v2", "2025-01-02T00:00:00Z"), {}, {"origin": "test"})
    # compared with the aware instant held, a naive one raised TypeError
    outcome = writer.write(model("v3", "2025-01-03T00:00:00"), {}, {"origin": "test"})
    assert outcome.report is not None and description(writer) == "v3"
