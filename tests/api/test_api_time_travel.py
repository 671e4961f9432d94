"""System time: after the world changed and the daemon ingested it, every form of "when"
(``as_of=tx:N``; ``known_at`` RFC 3339, a date, an age) still answers from the view mds
had then. (Valid time, ``as_of``: tests/api/test_api_two_axes.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from api_org import Change, Org
from api_world import aip

from mds.client import ApiError

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def change(living_org: Org) -> Change:
    return await living_org.change(updated="models", created="pipeline-runs")


def with_offset(at: str, *, hours: int) -> str:
    """The same instant as the RFC 3339 ``at``, written with another UTC offset."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


async def test_the_old_view_keeps_the_old_state(living_org: Org, change: Change) -> None:
    client = living_org.client
    model = change.updated("models")[0]
    xid = aip("models", model)
    old, new = change.before["models"][model], change.after["models"][model]

    now = await client.entity(xid)
    then = await client.entity(xid, as_of=f"tx:{change.before_tx}")
    assert now["updated_at"] == new["updated_at"] != old["updated_at"]
    assert then["updated_at"] == old["updated_at"]
    assert then["as_of"]["tx"] == change.before_tx
    assert now["as_of"]["tx"] >= change.after_tx

    current = {r["target"] for r in then["relationships"] if r["type"] == "current_instance"}
    assert current == {aip("instances", i) for i in [old.get("current_instance_id")] if i}


@pytest.mark.parametrize("form", ["tx", "rfc3339 utc", "rfc3339 offset"])
async def test_every_form_of_when_pins_the_same_view(
    living_org: Org, change: Change, form: str
) -> None:
    when = {
        "tx": f"tx:{change.before_tx}",
        "rfc3339 utc": change.before_at,
        "rfc3339 offset": with_offset(change.before_at, hours=2),
    }[form]
    model = change.updated("models")[0]
    moments = {"as_of": when} if form == "tx" else {"known_at": when}
    doc = await living_org.client.entity(aip("models", model), **moments)
    assert doc["as_of"]["tx"] == change.before_tx
    assert doc["updated_at"] == change.before["models"][model]["updated_at"]


async def test_dates_and_ages(living_org: Org, change: Change) -> None:
    """A date means its end; an age counts back from now. The daemon was started moments
    ago, so what it knew yesterday and an hour ago is nothing, and at today's end all."""
    client = living_org.client
    xid = aip("models", change.updated("models")[0])
    today = datetime.fromisoformat(change.before_at.replace("Z", "+00:00")).date()
    for before_everything in ((today - timedelta(days=1)).isoformat(), "1h", "2w"):
        with pytest.raises(ApiError) as raised:
            await client.entity(xid, known_at=before_everything)
        assert raised.value.status == 404
    for current in (today.isoformat(), "0s", "now"):
        doc = await client.entity(xid, known_at=current)
        assert doc["as_of"]["tx"] >= change.after_tx


async def test_an_entity_created_later_is_absent_from_the_old_view(
    living_org: Org, change: Change
) -> None:
    client = living_org.client
    run = change.created("pipeline-runs")[0]
    record = change.after["pipeline-runs"][run]
    xid = aip("pipeline-runs", run)
    old = f"tx:{change.before_tx}"

    assert (await client.entity(xid))["status"] == "resolved"
    with pytest.raises(ApiError) as raised:
        await client.entity(xid, as_of=old)
    assert raised.value.status == 404 and f"as of tx {change.before_tx}" in raised.value.message

    hits = await client.search(run, limit=5)
    assert xid in {h["id"] for h in hits["results"]}
    assert xid not in {h["id"] for h in (await client.search(run, limit=5, as_of=old))["results"]}

    pipeline = aip("pipelines", record["pipeline"])
    runs_now = await client.lineage(pipeline, direction="downstream", depth=1)
    runs_then = await client.lineage(pipeline, direction="downstream", depth=1, as_of=old)
    assert xid in {n["id"] for n in runs_now["nodes"]}
    assert xid not in {n["id"] for n in runs_then["nodes"]}
    impact_then = await client.impact(pipeline, as_of=old)
    assert impact_then["total"] < (await client.impact(pipeline))["total"]


async def test_history_shows_the_change_as_retract_and_assert(
    living_org: Org, change: Change
) -> None:
    model = change.updated("models")[0]
    doc = await living_org.client.history(aip("models", model))
    later = [t for t in doc["transactions"] if t["tx"] > change.before_tx]
    changes = {(c["attribute"], c["op"]) for t in later for c in t["changes"]}
    assert {("entity/updated_at", "retract"), ("entity/updated_at", "assert")} <= changes
    graph = await living_org.client.history(before_tx=change.after_tx + 1, limit=50)
    assert any(aip("models", model) in t["entities"] for t in graph["transactions"])
