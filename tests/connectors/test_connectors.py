"""Routing (events -> units), listing, identity lookups and the connector registry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from connector_fakes import BASE, FakeSource
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mds.wire.model import EntityType
from mdsd.connectors import (
    CONNECTORS,
    EVENT_ROUTES,
    Listed,
    SourcePolicy,
    SourceUnavailable,
    build_connectors,
)
from mdsd.connectors.identity import IdentityConnector
from mdsd.connectors.ids import HOME

#: contract 1.1, written out once more on purpose: the connectors must serve exactly this
CONTRACT_EVENTS = {
    **{f"model_{v}": ("registry", ("model_id",)) for v in ("created", "updated", "deleted")},
    **{
        f"model_instance_{v}": ("registry", ("instance_id",))
        for v in ("created", "updated", "deleted")
    },
    **{
        f"pipeline_{v}": ("orchestrator", ("pipeline_id",))
        for v in ("created", "updated", "deleted")
    },
    **{
        f"pipeline_run_{v}": ("orchestrator", ("run_id",))
        for v in ("started", "completed", "failed")
    },
    **{
        f"feature_{v}": ("featurestore", ("feature_id",)) for v in ("created", "updated", "deleted")
    },
    **{f"ab_test_{v}": ("experiments", ("test_id",)) for v in ("created", "updated", "deleted")},
    **{f"dataset_{v}": ("datasets", ("dataset_id",)) for v in ("created", "updated", "deleted")},
    "dataset_version_created": ("datasets", ("dataset_id", "version")),
    "user_updated": ("identity", ("user_id",)),
    "team_updated": ("identity", ("team_id",)),
}


def test_event_routes_match_the_contract():
    """The reference sources serve exactly contract 1.1; other connectors (real tools such
    as MLflow) add their own event types beside it."""
    reference = {"registry", "orchestrator", "featurestore", "experiments", "datasets", "identity"}
    assert {
        et: (src, spec.id_fields) for et, (src, spec) in EVENT_ROUTES.items() if src in reference
    } == CONTRACT_EVENTS


def test_every_entity_type_has_a_home_connector():
    assert set(HOME.values()) <= set(CONNECTORS)
    assert set(HOME) == set(EntityType)


@pytest.mark.parametrize(
    ("event_type", "ids", "target"),
    [
        ("model_updated", {"model_id": "m"}, "aip://model/registry/m"),
        ("model_instance_created", {"instance_id": "i"}, "aip://model-instance/registry/i"),
        ("pipeline_deleted", {"pipeline_id": "p"}, "aip://pipeline/orchestrator/p"),
        ("pipeline_run_failed", {"run_id": "r"}, "aip://pipeline-run/orchestrator/r"),
        ("feature_created", {"feature_id": "f"}, "aip://feature/featurestore/f"),
        ("ab_test_updated", {"test_id": "12345"}, "aip://ab-test/experiments/12345"),
        ("dataset_created", {"dataset_id": "d"}, "aip://dataset/datasets/d"),
        (
            "dataset_version_created",
            {"dataset_id": "d", "version": "2025-01-01"},
            "aip://dataset/datasets/d",
        ),
        ("user_updated", {"user_id": "alice"}, "aip://user/identity/alice"),
        ("team_updated", {"team_id": "ml"}, "aip://team/identity/ml"),
    ],
)
def test_target_of(event_type, ids, target):
    source, _ = EVENT_ROUTES[event_type]
    assert CONNECTORS[source].target_of(event_type, ids) == target


@pytest.mark.parametrize(
    ("entity_id", "unit"),
    [
        ("aip://ab-test-cell/experiments/12345/2", "aip://ab-test/experiments/12345"),
        ("aip://dataset-version/datasets/d@2025-01-01", "aip://dataset/datasets/d"),
        ("aip://dataset-version/datasets/d@v@1", "aip://dataset/datasets/d"),
        ("aip://ab-test/experiments/12345", "aip://ab-test/experiments/12345"),
        ("aip://model/registry/m", "aip://model/registry/m"),
    ],
)
def test_unit_of(entity_id, unit):
    source = entity_id.split("/")[3]
    assert CONNECTORS[source].unit_of(entity_id) == unit


async def test_hydrating_another_sources_id_is_a_programming_error():
    conn = CONNECTORS["registry"](SourcePolicy(BASE), transport=FakeSource().transport)
    with pytest.raises(ValueError, match="not a unit of source 'registry'"):
        await conn.hydrate("aip://feature/featurestore/f")


def listing_app(collections: dict[str, list[dict]], page_size: int = 2) -> Starlette:
    """A source serving only the listing endpoints, paginated by offset tokens."""

    async def listing(request: Request) -> JSONResponse:
        name = request.path_params["collection"]
        if name not in collections:
            return JSONResponse({"error": "no such collection"}, status_code=404)
        start = int(request.query_params.get("page_token") or 0)
        items = collections[name][start : start + page_size]
        more = start + page_size < len(collections[name])
        return JSONResponse(
            {"items": items, "next_page_token": str(start + page_size) if more else None}
        )

    return Starlette(routes=[Route("/api/v1/{collection}", listing)])


async def test_list_units_walks_every_page_of_every_collection():
    app = listing_app(
        {
            "models": [
                {"id": f"m{i}", "updated_at": f"2025-01-0{i + 1}T00:00:00Z"} for i in range(5)
            ],
            "instances": [{"id": "i1", "updated_at": None}],
        }
    )
    conn = CONNECTORS["registry"](SourcePolicy(BASE), transport=httpx.ASGITransport(app))
    listed = [unit async for unit in conn.list_units()]
    assert listed == [
        *(Listed(f"aip://model/registry/m{i}", f"2025-01-0{i + 1}T00:00:00Z") for i in range(5)),
        Listed("aip://model-instance/registry/i1", None),
    ]
    assert conn.stats()["requests"] == 4  # three pages of models, one of instances
    assert conn.stats()["cache_entries"] == 0  # listings are never cached


async def test_list_units_accepts_the_payload_id_field_in_items():
    app = listing_app({"tests": [{"test_id": 7}], "pipeline-runs": []})
    conn = CONNECTORS["experiments"](SourcePolicy(BASE), transport=httpx.ASGITransport(app))
    assert [u async for u in conn.list_units()] == [Listed("aip://ab-test/experiments/7", None)]


async def test_list_units_sends_limit_and_page_token():
    fake = FakeSource(
        {
            "/api/v1/features": lambda request: httpx.Response(
                200,
                json={"items": [{"id": "f"}], "next_page_token": None}
                if request.url.params.get("page_token")
                else {"items": [], "next_page_token": "abc"},
            )
        }
    )
    conn = CONNECTORS["featurestore"](SourcePolicy(BASE), transport=fake.transport)
    assert [u.id async for u in conn.list_units()] == ["aip://feature/featurestore/f"]
    assert [dict(r.url.params) for r in fake.requests] == [
        {"limit": "200"},
        {"limit": "200", "page_token": "abc"},
    ]


async def test_a_missing_listing_is_never_an_empty_source():
    app = listing_app({"users": []})  # no /teams: reconciliation must not read "no teams"
    conn = CONNECTORS["identity"](SourcePolicy(BASE), transport=httpx.ASGITransport(app))
    with pytest.raises(SourceUnavailable, match="identity teams listing: answered 404"):
        [u async for u in conn.list_units()]


async def test_a_looping_page_token_is_an_error():
    fake = FakeSource({"/api/v1/features": {"items": [], "next_page_token": "same"}})
    conn = CONNECTORS["featurestore"](SourcePolicy(BASE), transport=fake.transport)
    with pytest.raises(ValueError, match="next_page_token 'same' came back again"):
        [u async for u in conn.list_units()]


def identity_with(
    users_by_email: dict[str, list[dict]], **options: Any
) -> tuple[IdentityConnector, FakeSource]:
    def lookup(request: httpx.Request) -> httpx.Response:
        email = request.url.params["email"].lower()
        return httpx.Response(200, json={"users": users_by_email.get(email, [])})

    fake = FakeSource({"/api/v1/users": lookup})
    return IdentityConnector(SourcePolicy(BASE), transport=fake.transport, **options), fake


async def test_resolve_email_is_cached_for_minutes(fake_time):
    alice = {"id": "alice", "name": "Alice", "email": "alice@example.com", "team_ids": []}
    conn, fake = identity_with({"alice@example.com": [alice]}, clock=fake_time.clock)
    assert await conn.resolve_email("alice@example.com") == "aip://user/identity/alice"
    fake_time.now += 120  # long past the 5 s response cache
    assert await conn.resolve_email(" Alice@Example.com ") == "aip://user/identity/alice"
    assert len(fake.requests) == 1
    fake_time.now += 300
    await conn.resolve_email("alice@example.com")
    assert len(fake.requests) == 2


async def test_resolve_email_misses_are_remembered_briefly(fake_time):
    conn, fake = identity_with({}, clock=fake_time.clock)
    assert await conn.resolve_email("new@example.com") is None
    fake_time.now += 5
    assert await conn.resolve_email("new@example.com") is None
    assert len(fake.requests) == 2


async def test_resolve_email_unknown_is_none():
    conn, fake = identity_with({})
    assert await conn.resolve_email("nobody@example.com") is None
    assert await conn.resolve_email("") is None
    assert len(fake.requests) == 1


async def test_resolve_email_prefers_the_exact_match():
    bob = {"id": "bob", "email": "bob@example.com"}
    bobby = {"id": "bobby", "email": "bobby@example.com"}
    conn, _ = identity_with({"bobby@example.com": [bob, bobby]})
    assert await conn.resolve_email("bobby@example.com") == "aip://user/identity/bobby"


async def test_resolve_email_never_takes_a_user_with_another_email():
    """A lookup answering by prefix names two users, neither with the owner's email."""
    ann_au = {"id": "ann-au", "email": "ann@example.com.au"}
    ann = {"id": "ann", "email": "ann@example.com"}
    conn, _ = identity_with({"ann@example.co": [ann_au, ann]})
    assert await conn.resolve_email("ann@example.co") is None


async def test_resolve_email_trusts_a_user_that_states_no_email():
    conn, _ = identity_with({"dana@example.com": [{"id": "dana", "email": None}]})
    assert await conn.resolve_email("dana@example.com") == "aip://user/identity/dana"


async def test_hydrating_a_user_teaches_the_email_lookup():
    fake = FakeSource({"/api/v1/users/carol": {"id": "carol", "email": "Carol@example.com"}})
    conn = IdentityConnector(SourcePolicy(BASE), transport=fake.transport)
    await conn.hydrate("aip://user/identity/carol")
    assert await conn.resolve_email("carol@example.com") == "aip://user/identity/carol"
    assert fake.paths() == ["/api/v1/users/carol"]


async def test_invalidate_makes_the_next_hydrate_read_the_source():
    fake = FakeSource({"/api/v1/tests/7": {"test_id": "7"}})
    conn = CONNECTORS["experiments"](SourcePolicy(BASE), transport=fake.transport)
    await conn.hydrate("aip://ab-test/experiments/7")
    await conn.hydrate("aip://ab-test/experiments/7")
    assert len(fake.requests) == 1
    conn.invalidate("aip://ab-test-cell/experiments/7/1")  # a part invalidates its unit
    await conn.hydrate("aip://ab-test/experiments/7")
    assert len(fake.requests) == 2


async def test_build_connectors():
    policies = {key: SourcePolicy(f"http://{key}.test") for key in ("registry", "identity")}
    built = build_connectors(policies)
    assert {k: type(c) for k, c in built.items()} == {
        "registry": CONNECTORS["registry"],
        "identity": IdentityConnector,
    }
    assert built["registry"].policy is policies["registry"]
    for conn in built.values():
        await conn.aclose()


def test_build_connectors_names_an_unknown_source():
    with pytest.raises(ValueError, match="unknown source 'registy'; known: registry, orchestrator"):
        build_connectors({"registy": SourcePolicy("http://r.test")})
