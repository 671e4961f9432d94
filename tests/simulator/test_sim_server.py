from __future__ import annotations

import time

import httpx
import pytest
from sim_contract import REQUIRED, record_problems

from simulator.chaos import Chaos
from simulator.records import COLLECTIONS, Event
from simulator.server import MAX_PAGE_SIZE, create_app
from simulator.world import World


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_every_entity_endpoint_serves_the_record(
    world: World, client: httpx.AsyncClient, collection: str
) -> None:
    records = world.truth()["collections"][collection]
    for native_id in list(records)[:25]:
        response = await client.get(f"/api/v1/{collection}/{native_id}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert REQUIRED[collection] <= body.keys()
        assert record_problems(collection, body) == []
        assert body == records[native_id]


async def test_users_resolve_by_email(world: World, client: httpx.AsyncClient) -> None:
    user = next(iter(world.truth()["collections"]["users"].values()))
    response = await client.get("/api/v1/users", params={"email": user["email"]})
    assert response.json() == {"users": [user]}
    assert set(response.json()["users"][0]) == {"id", "name", "email", "team_ids"}
    nobody = await client.get("/api/v1/users", params={"email": "nobody@example.com"})
    assert nobody.json() == {"users": []}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/models/no-such-model", "/api/v1/tests/1", "/api/v1/widgets/x", "/api/v1/widgets"],
)
async def test_missing_things_are_404_json(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "error" in response.json()


async def test_deleted_entity_is_404_and_unlisted(world: World, client: httpx.AsyncClient) -> None:
    instance_id = next(
        i
        for i, rec in world.truth()["collections"]["instances"].items()
        if rec["status"] == "retired"
    )
    assert (await client.get(f"/api/v1/instances/{instance_id}")).status_code == 200
    world.delete_instance(instance_id, world.now + 1)
    assert (await client.get(f"/api/v1/instances/{instance_id}")).status_code == 404
    listed = await _walk(client, "instances", limit=50)
    assert instance_id not in listed


async def _walk(
    client: httpx.AsyncClient, collection: str, limit: int, between: int = 0
) -> list[str]:
    """Every id a full listing walk yields; ``between`` mutations happen after each page."""
    ids: list[str] = []
    token = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if token:
            params["page_token"] = token
        response = await client.get(f"/api/v1/{collection}", params=params)
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"items", "next_page_token"}
        assert len(page["items"]) <= limit
        for item in page["items"]:
            assert set(item) == {"id", "updated_at"}
        ids += [item["id"] for item in page["items"]]
        token = page["next_page_token"]
        if token is None:
            return ids
        if between:
            await client.post("/_mutate", params={"n": between})


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_listing_covers_every_id_once(
    world: World, client: httpx.AsyncClient, collection: str
) -> None:
    ids = await _walk(client, collection, limit=7)
    assert sorted(ids) == sorted(world.truth()["collections"][collection])


async def test_listing_is_stable_while_the_world_changes(
    world: World, client: httpx.AsyncClient
) -> None:
    for collection in ("pipeline-runs", "instances", "tests", "datasets"):
        before = set(world.truth()["collections"][collection])
        ids = await _walk(client, collection, limit=20, between=3)
        after = set(world.truth()["collections"][collection])
        assert len(ids) == len(set(ids)), "an id was listed twice"
        assert before & after <= set(ids), "an id that existed throughout was missed"
        assert set(ids) <= before | after | set(world.truth()["deleted"][collection])


async def test_listing_reports_updated_at(world: World, client: httpx.AsyncClient) -> None:
    world.mutate_many(30)
    for collection in COLLECTIONS:
        page = (await client.get(f"/api/v1/{collection}", params={"limit": 1000})).json()
        assert page["items"]
        for item in page["items"]:
            assert item["updated_at"] == world.updated_at(collection, item["id"])


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": "x"}, {"page_token": "***"}])
async def test_bad_listing_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    response = await client.get("/api/v1/models", params=params)
    assert response.status_code == 400
    assert "error" in response.json()


async def test_page_size_is_capped() -> None:
    world = World.generate(5000, seed=1)
    assert world.counts()["pipeline-runs"] > MAX_PAGE_SIZE
    transport = httpx.ASGITransport(app=create_app(world))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        page = (await client.get("/api/v1/pipeline-runs", params={"limit": 100_000})).json()
    assert len(page["items"]) == MAX_PAGE_SIZE and page["next_page_token"]


async def test_mutate_changes_the_world_and_publishes(world: World) -> None:
    published: list[Event] = []

    async def publish(events: list[Event]) -> None:
        published.extend(events)

    transport = httpx.ASGITransport(app=create_app(world, publish=publish))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        before = world.truth()
        response = await client.post("/_mutate", params={"n": 5})
        assert response.status_code == 200
        events = response.json()["events"]
        assert len(events) >= 5 and events == published
        assert (await client.get("/_truth")).json() != before
        assert (await client.get("/_truth")).json() == world.truth()
        assert (await client.post("/_mutate", params={"n": "many"})).status_code == 400


async def test_stats_count_requests_per_endpoint(world: World, client: httpx.AsyncClient) -> None:
    model_id = next(iter(world.truth()["collections"]["models"]))
    await client.get(f"/api/v1/models/{model_id}")
    await client.get(f"/api/v1/models/{model_id}")
    await client.get("/api/v1/models")
    await client.get("/api/v1/users", params={"email": "x@example.com"})
    await client.get("/_truth")
    stats = (await client.get("/_stats")).json()
    assert stats["requests"] == {
        "GET /api/v1/models/{id}": 2,
        "GET /api/v1/models": 1,
        "GET /api/v1/users?email": 1,
    }
    assert stats["requests_total"] == 4
    assert stats["injected"] == {}
    assert stats["entities"] == world.counts()


async def test_response_chaos_injects_failures_and_throttling(world: World) -> None:
    chaos = Chaos(fail_5xx=0.2, rate_limit_429=0.1, retry_after_s=2, seed=5)
    transport = httpx.ASGITransport(app=create_app(world, chaos=chaos))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        model_id = next(iter(world.truth()["collections"]["models"]))
        statuses: dict[int, int] = {}
        for _ in range(600):
            response = await client.get(f"/api/v1/models/{model_id}")
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 429:
                assert response.headers["retry-after"] == "2"
        assert 85 <= statuses[503] <= 155  # 120 expected, +/- 3.5 sd
        assert 35 <= statuses[429] <= 85  # 60 expected
        assert statuses[200] == 600 - statuses[503] - statuses[429]
        for _ in range(20):  # the simulator's own endpoints never misbehave
            assert (await client.get("/_stats")).status_code == 200
        stats = (await client.get("/_stats")).json()
        assert stats["injected"] == {"5xx": statuses[503], "429": statuses[429]}


async def test_response_chaos_adds_latency(world: World) -> None:
    transport = httpx.ASGITransport(app=create_app(world, chaos=Chaos(latency_ms=40)))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        started = time.perf_counter()
        for _ in range(5):
            await client.get("/api/v1/teams")
        assert time.perf_counter() - started >= 0.2
