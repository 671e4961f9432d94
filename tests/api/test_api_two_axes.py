"""The two time axes of every read (contract 4): ``as_of`` is valid time, ``known_at``
system time; each answer says which view it read, and a valid time before an entity's
known history says where that begins instead of an empty page."""

from __future__ import annotations

from datetime import datetime

import pytest
from api_world import Truth

from mds.client import ApiError, Client

pytestmark = pytest.mark.asyncio(loop_scope="session")

LONG_AGO = "2000-01-01"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_an_answer_names_its_valid_time_and_its_system_basis(
    client: Client, truth: Truth
) -> None:
    xid = next(truth.records("models"))[0]
    now = await client.entity(xid)
    assert now["as_of"]["valid_time"] is None
    later = "2100-01-01T00:00:00Z"
    then = await client.entity(xid, as_of=later)
    assert then["as_of"] == {**now["as_of"], "valid_time": later}  # same system basis
    known = await client.entity(xid, known_at=f"tx:{now['as_of']['tx']}")
    assert known["as_of"]["valid_time"] is None and known["as_of"]["tx"] == now["as_of"]["tx"]


@pytest.mark.parametrize("route", ["entity", "lineage", "impact", "usage", "history"])
async def test_before_its_known_history_an_entity_says_where_that_begins(
    client: Client, truth: Truth, route: str
) -> None:
    xid = next(truth.records("models"))[0]
    with pytest.raises(ApiError) as raised:
        await getattr(client, route)(xid, as_of=LONG_AGO)
    error = raised.value
    assert error.status == 404 and error.known_from is not None
    assert f"as of {LONG_AGO}T23:59:59.999999Z (valid time)" in error.message
    assert f"its known history begins at {error.known_from}" in error.message
    # and it is there from then on
    found = await client.entity(xid, as_of=error.known_from)
    assert found["id"] == xid and found["as_of"]["valid_time"] == error.known_from


async def test_status_says_how_far_back_the_graph_reaches(client: Client, truth: Truth) -> None:
    status = await client.status()
    earliest = status["earliest_valid"]
    assert earliest is not None
    xid = next(truth.records("models"))[0]
    with pytest.raises(ApiError) as raised:
        await client.entity(xid, as_of=LONG_AGO)
    assert moment(earliest) <= moment(str(raised.value.known_from))


async def test_search_as_of_a_valid_time_finds_what_existed_then(
    client: Client, truth: Truth
) -> None:
    assert (await client.search("*", limit=5))["results"]
    past = await client.search("*", limit=5, as_of=LONG_AGO)
    assert past["results"] == [] and past["as_of"]["valid_time"] is not None


async def test_history_gives_each_change_its_valid_time_and_as_of_cuts_by_it(
    client: Client, truth: Truth
) -> None:
    xid = next(truth.records("models"))[0]
    history = await client.history(xid)
    changes = [c for t in history["transactions"] for c in t["changes"]]
    assert changes and all(c["valid"] is not None for c in changes)
    first = min(c["valid"] for c in changes)
    early = await client.history(xid, as_of=first)
    kept = [c for t in early["transactions"] for c in t["changes"]]
    assert kept and all(moment(c["valid"]) <= moment(first) for c in kept)
    graph = await client.history(limit=5)
    assert all(t["earliest_valid"] <= t["latest_valid"] for t in graph["transactions"])


async def test_a_transaction_already_names_the_system_time(client: Client, truth: Truth) -> None:
    xid = next(truth.records("models"))[0]
    with pytest.raises(ApiError) as raised:
        await client.entity(xid, as_of="tx:3", known_at="1h")
    assert raised.value.status == 400 and "already names the system time" in raised.value.message


async def test_graphql_takes_both_axes_on_the_endpoint_and_each_root(
    client: Client, truth: Truth
) -> None:
    xid = next(truth.records("models"))[0]
    query = (
        'query($id: ID!) { basis(knownAt: "tx:1") { tx validTime }'
        ' late: entity(id: $id, asOf: "2000-01-01") { name } }'
    )
    answer = await client.graphql(query, {"id": xid})
    assert answer["data"]["basis"] == {"tx": 1, "validTime": None}
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND" and error["extensions"]["knownFrom"]
    endpoint = await client.graphql("{ basis { tx validTime } }", as_of="2100-01-01")
    assert endpoint["data"]["basis"]["validTime"].startswith("2100-01-01T23:59:59")
    assert endpoint["extensions"]["as_of"]["valid_time"].startswith("2100-01-01T23:59:59")
