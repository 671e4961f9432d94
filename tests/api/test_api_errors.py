"""What a caller gets wrong (400), asks about what is not there (404), or asks too early
(503): always a JSON error document with a message to act on."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import contract_shapes as shape
import httpx
import pytest
from api_org import Org, org_config
from api_world import Truth, aip

from mds.client import ApiError, Client
from mdsd.api.rest import create_app
from mdsd.daemon import Daemon
from mdsd.reads import queries
from mdsd.reads.cost import ReadLimits, ReadRunner

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNKNOWN = "aip://model/registry/no-such-model"
Call = Callable[[Client, str], Awaitable[Any]]

#: every read that names one entity, asked about ``xid``
BY_ID: dict[str, Call] = {
    "entity": lambda c, xid: c.entity(xid),
    "neighbors": lambda c, xid: c.neighbors(xid),
    "lineage": lambda c, xid: c.lineage(xid),
    "impact": lambda c, xid: c.impact(xid),
    "dependencies": lambda c, xid: c.dependencies(xid),
    "usage": lambda c, xid: c.usage(xid),
    "history": lambda c, xid: c.history(xid),
    "path from": lambda c, xid: c.path(xid, "aip://team/identity/personalization"),
    "path to": lambda c, xid: c.path("aip://team/identity/personalization", xid),
}


async def fails(call: Awaitable[Any], status: int) -> ApiError:
    with pytest.raises(ApiError) as raised:
        await call
    assert raised.value.status == status, raised.value.message
    assert raised.value.message
    return raised.value


@pytest.mark.parametrize("route", BY_ID)
async def test_unknown_id_is_not_found(client: Client, route: str) -> None:
    error = await fails(BY_ID[route](client, UNKNOWN), 404)
    assert error.code == "not_found"
    assert UNKNOWN in error.message


async def test_a_name_given_for_an_id_is_told_what_an_id_looks_like(client: Client) -> None:
    error = await fails(client.entity("ranking-model"), 404)
    assert (
        error.message
        == f"no entity 'ranking-model' now; {queries.ID_FORM}, and search finds one by name"
    )
    assert queries.ID_FORM not in (await fails(client.entity(UNKNOWN), 404)).message


async def test_before_the_first_transaction_says_so(client: Client, truth: Truth) -> None:
    """What mds knew before it recorded anything: nothing, and the answer says why."""
    xid = next(truth.records("models"))[0]
    error = await fails(client.entity(xid, known_at="2000-01-01"), 404)
    assert "as of tx 0: mds had recorded nothing yet (its first transaction was at 20" in (
        error.message
    )
    assert error.known_from is None


@pytest.mark.parametrize("route", ["entity", "lineage", "impact", "usage"])
async def test_an_id_that_did_not_exist_yet_is_not_found_as_of_then(
    client: Client, truth: Truth, route: str
) -> None:
    xid = next(truth.records("models"))[0]
    call = getattr(client, route)
    error = await fails(call(xid, as_of="tx:0"), 404)
    assert "as of tx 0" in error.message


@pytest.mark.parametrize(
    "as_of", ["soon", "2025-13-45", "2025-02-30", "99999999999d", "tx:", "tx:abc", "12x"]
)
async def test_bad_as_of_is_a_bad_request(client: Client, truth: Truth, as_of: str) -> None:
    xid = next(truth.records("models"))[0]
    error = await fails(client.entity(xid, as_of=as_of), 400)
    assert error.code == "bad_request"
    assert "tx:42" in error.message  # it says which forms are accepted


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"depth": "deep"}, "depth must be an integer"),
        ({"depth": "-1"}, "depth must be between 0 and 50"),
        ({"depth": "51"}, "depth must be between 0 and 50"),
        ({"direction": "sideways"}, "direction must be upstream or downstream"),
        ({"types": "reads,friends_with"}, "unknown relationship type(s) friends_with"),
    ],
)
async def test_bad_lineage_parameters_are_bad_requests(
    client: Client, truth: Truth, params: dict[str, str], says: str
) -> None:
    for xid in (next(truth.records("datasets"))[0], UNKNOWN):  # checked before the id
        error = await fails(client.get("/v1/lineage", id=xid, **params), 400)
        assert says in error.message


@pytest.mark.parametrize(
    ("path", "params", "missing"),
    [
        ("/v1/entity", {}, "id"),
        ("/v1/neighbors", {}, "id"),
        ("/v1/lineage", {"direction": "upstream"}, "id"),
        ("/v1/impact", {}, "id"),
        ("/v1/dependencies", {}, "id"),
        ("/v1/usage", {}, "id"),
        ("/v1/path", {"to": UNKNOWN}, "from"),
        ("/v1/path", {"from": UNKNOWN}, "to"),
        ("/v1/similar", {}, "id"),
        ("/v1/suggestions", {}, "id"),
    ],
)
async def test_missing_parameters_are_named(
    client: Client, path: str, params: dict[str, str], missing: str
) -> None:
    error = await fails(client.get(path, **params), 400)
    assert f"missing required parameter {missing!r}" in error.message


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/search", {"q": "x", "limit": "0"}),
        ("/v1/search", {"q": "x", "type": "spaceship"}),
        ("/v1/search", {"q": "type:spaceship"}),
        ("/v1/path", {"from": UNKNOWN, "to": UNKNOWN, "max_depth": "0"}),
        ("/v1/history", {"limit": "many"}),
        ("/v1/wait-idle", {"timeout": "-1"}),
        ("/v1/dead-letters", {"limit": "0"}),
    ],
)
async def test_out_of_range_parameters_are_bad_requests(
    client: Client, path: str, params: dict[str, str]
) -> None:
    await fails(client.get(path, **params), 400)


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"ids": "all"}', b'{"ids": [1.5]}', b'{"all": 1}', b"{}"]
)
async def test_bad_redrive_bodies_are_bad_requests(client: Client, body: bytes) -> None:
    await fails(client.request("POST", "/v1/dead-letters/redrive", content=body), 400)


async def test_unknown_endpoint_and_method_answer_json(client: Client) -> None:
    error = await fails(client.get("/v1/nothing-here"), 404)
    assert (error.code, "docs/api.md" in error.message) == ("not_found", True)
    error = await fails(client.request("DELETE", "/v1/status"), 405)
    assert error.code == "method_not_allowed"


async def test_a_daemon_still_starting_answers_503(tmp_path: Path, org: Org) -> None:
    starting = Daemon(org_config(org.simulator.base_url, tmp_path))  # never started
    async with Client(app=create_app(starting.api)) as early:
        asks: list[Callable[[], Awaitable[Any]]] = [
            early.status,
            lambda: early.entity(UNKNOWN),
            lambda: early.ingest(b"{}"),
            lambda: early.wait_idle(1),
        ]
        for ask in asks:
            error = await fails(ask(), 503)
            assert error.code == "starting"
        await fails(early.get("/v1/no-such-route"), 404)


async def test_a_bug_answers_a_json_500(
    org: Org, truth: Truth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query on a read thread (``[api] read_processes = 0``) that raises: a JSON 500."""

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "neighbors", broken)
    in_process = dataclasses.replace(org.daemon.services, reader=ReadRunner(ReadLimits()))
    monkeypatch.setattr(org.daemon, "services", in_process)
    transport = httpx.ASGITransport(app=create_app(org.daemon.api), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://mds") as http:
        response = await http.get("/v1/neighbors", params={"id": aip("teams", "x")})
    assert response.status_code == 500
    assert "RuntimeError: boom" in shape.error(response.json(), "internal")


async def test_a_read_past_its_cost_is_refused_with_the_reason(
    org: Org, truth: Truth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read is charged for the records it visits: past ``[api] read_visits`` it is a
    422 that says what to ask for instead, not a stalled daemon."""
    dataset = aip("datasets", truth.raw_dataset())
    monkeypatch.setattr(org.daemon.reader, "limits", ReadLimits(visits=3))
    error = await fails(org.client.lineage(dataset, direction="downstream"), 422)
    assert error.code == "too_costly"
    assert "visits more than 3 records" in error.message
    monkeypatch.undo()
    assert (await org.client.lineage(dataset, direction="downstream"))["nodes"]
