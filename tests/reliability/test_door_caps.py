"""Caps at the doors: ids, nesting, what is kept, and what the journal lets go of.

A 100,000-character id passed validation and failed in hydration with a traceback and
200 KB of log; ids ``.`` and ``..`` were read as path segments against the source (``.``
fetched the model listing); a signed body nested 100,000 deep answered 500; 50,000 junk
ids left 50,000 ``units`` rows for good; and a 210 MB file of padded events grew the
journal by 95 MB, storing fields mds ignores.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
import pytest

from mdsd import facts as F
from mdsd.api.ports import Services
from mdsd.api.rest import create_app
from mdsd.base.jsondepth import MAX_JSON_DEPTH
from mdsd.hydration.writer import Writer
from mdsd.intake.doors import Intake
from mdsd.intake.events import MAX_ID_CHARS, Accepted, Rejected, parse_events
from mdsd.intake.housekeeping import tidy
from mdsd.intake.journal import EVENT_ID_MEMORY_SECONDS, Journal
from store import FactStore
from tests.reliability.conftest import Scheduled

DEEP = "[" * 100_000 + "]" * 100_000


def one(event: dict[str, object]) -> Accepted | Rejected:
    (result,) = parse_events(json.dumps(event).encode(), "socket")
    return result


def test_an_id_over_the_cap_is_refused_at_the_door_with_the_reason() -> None:
    refused = one({"event_type": "model_created", "model_id": "m" * 100_000})
    assert isinstance(refused, Rejected)
    assert refused.reason == (
        f'"model_id" is 100,000 characters, more than the {MAX_ID_CHARS:,} an id may have'
    )
    assert isinstance(
        one({"event_type": "model_created", "model_id": "m" * MAX_ID_CHARS}), Accepted
    )
    long_event_id = {"event_type": "model_created", "model_id": "m", "event_id": "e" * 5000}
    assert "an id may have" in one(long_event_id).reason  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [".", "..", "a/..", "../registry", "a/./b", "x\x00y", "tab\there"])
def test_dot_segments_and_control_characters_are_refused(bad: str) -> None:
    refused = one({"event_type": "model_created", "model_id": bad})
    assert isinstance(refused, Rejected)
    assert '"model_id" must not' in refused.reason


@pytest.mark.parametrize("good", ["v1.2", "a..b", ".hidden", "name/3", "Ünïcode model"])
def test_ordinary_ids_with_dots_still_pass(good: str) -> None:
    assert isinstance(one({"event_type": "model_created", "model_id": good}), Accepted)


def test_an_event_nested_past_the_limit_is_refused_naming_it() -> None:
    for nested in (DEEP, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)):
        text = '{"event_type": "model_created", "model_id": "m", "x": ' + nested + "}"
        (refused,) = parse_events(text.encode(), "socket")
        assert isinstance(refused, Rejected)
        assert refused.reason == (
            f"unreadable JSON: nested deeper than the limit of {MAX_JSON_DEPTH} levels"
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    with FactStore(tmp_path / "facts") as opened:
        opened.install(F.SCHEMA)
        yield opened


async def test_graphql_variables_nested_past_the_limit_are_a_400(store: FactStore) -> None:
    unused: Any = None  # the route reads none of the other services before the body
    services = Services(store, *[unused] * (len(fields(Services)) - 1))
    app = create_app(lambda: services)
    body = '{"query": "{ __typename }", "variables": {"v": ' + DEEP + "}}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mds") as client:
        answer = await client.post("/v1/graphql", content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        f"body refused: JSON nested deeper than the limit of {MAX_JSON_DEPTH} levels"
    )


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = await Journal.open(tmp_path / "journal.sqlite3")
    yield opened
    await opened.close()


async def test_ignored_event_fields_are_not_stored(journal: Journal, tmp_path: Path) -> None:
    intake = Intake(journal, Scheduled(), {"identity"})
    padding = "p" * 500_000
    events = [
        {"event_type": "user_updated", "user_id": f"u{i}", "event_id": f"e{i}", "pad": padding}
        for i in range(40)
    ]
    result = await intake.submit("\n".join(map(json.dumps, events)).encode(), "socket")
    assert result.accepted == 40
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        kept = [json.loads(raw) for (raw,) in db.execute("SELECT raw FROM intake ORDER BY seq")]
        stored = sum(len(raw) for (raw,) in db.execute("SELECT raw FROM intake"))
    assert kept[3] == {"event_type": "user_updated", "user_id": "u3", "event_id": "e3"}
    assert stored < 40 * 100  # of 20 MB sent


async def test_housekeeping_drops_unknown_units_and_old_event_ids(
    journal: Journal, store: FactStore
) -> None:
    real = [f"aip://user/identity/u{i}" for i in range(3)]
    Writer(store).ensure_stubs(real, {"origin": "test"})
    junk = [f"aip://user/identity/junk-{i}" for i in range(2500)]
    await journal.record_success([("identity", unit) for unit in [*real, *junk]])
    await journal.record_failure("identity", "aip://user/identity/down", "503", lambda n: 60.0)
    long_ago = time.time() - EVENT_ID_MEMORY_SECONDS - 60
    await journal._db.executemany(
        "INSERT INTO seen_events VALUES (?, 'user_updated', 'u', ?)",
        [(f"old-{i}", long_ago) for i in range(100)] + [("fresh", time.time())],
    )
    await journal._db.commit()

    assert await tidy(journal, store) == (100, 2500)

    assert set(await journal.unit_times()) == {*real, "aip://user/identity/down"}
    async with journal._db.execute("SELECT event_id FROM seen_events") as cursor:
        assert await cursor.fetchall() == [("fresh",)]
    assert await tidy(journal, store) == (0, 0)
