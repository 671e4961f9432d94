"""SourceClient: retries, Retry-After, breaker, rate and concurrency limits, cache."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import serde
from connector_fakes import FakeSource, responses

from mdsd.connectors.base import InvalidPayload, SourceUnavailable
from mdsd.connectors.http import MAX_RETRY_AFTER_SECONDS, NotFound, _retry_after_seconds
from mdsd.connectors.policy import SourcePolicy

OK = httpx.Response(200, json={"id": "a"})


async def test_json_body_is_returned(make_client):
    client = make_client(FakeSource({"/x": {"id": "a"}}))
    assert await client.get_json("/x") == {"id": "a"}
    assert client.stats()["requests"] == 1


async def test_a_search_that_is_a_post_is_retried_and_never_cached(make_client):
    """MLflow's ``runs/search`` is a POST that reads: sent with its JSON body, retried like
    a GET, and asked again every time (a listing must be current)."""
    source = FakeSource({"/search": responses(httpx.Response(503), OK)})
    client = make_client(source, max_retries=2)
    for _ in range(2):
        assert await client.post_json("/search", {"ids": ["1"]}) == {"id": "a"}
    assert [(r.method, r.content) for r in source.requests] == [("POST", b'{"ids": ["1"]}')] * 3
    assert source.requests[0].headers["Content-Type"] == "application/json"
    assert client.stats()["cache_hits"] == 0
    failing = make_client(FakeSource({"/search": httpx.Response(503)}), max_retries=0)
    with pytest.raises(SourceUnavailable, match="POST /search: HTTP 503"):
        await failing.post_json("/search", {})


async def test_base_url_path_prefix_is_kept(fake_time):
    """A source behind a reverse proxy at ``/registry/`` is read under that prefix."""
    from mdsd.connectors.http import SourceClient

    source = FakeSource({"/registry/api/v1/models/m": {"id": "m"}})
    for base in ("http://proxy.test/registry", "http://proxy.test/registry/"):
        client = SourceClient("test", SourcePolicy(base), transport=source.transport)
        assert await client.get_json("/api/v1/models/m") == {"id": "m"}
    assert [str(r.url) for r in source.requests] == [
        "http://proxy.test/registry/api/v1/models/m"
    ] * 2
    assert source.requests[0].headers["Accept"] == "application/json"


async def test_a_redirect_is_an_unexpected_status_not_followed(make_client):
    moved = httpx.Response(301, headers={"Location": "http://elsewhere.test/x"})
    source = FakeSource({"/x": moved})
    client = make_client(source)
    with pytest.raises(SourceUnavailable, match="answered HTTP 301"):
        await client.get_json("/x")
    assert source.paths() == ["/x"]


@pytest.mark.parametrize("status", [400, 405, 409, 422])
async def test_a_4xx_refusing_the_read_is_not_retried(make_client, status):
    source = FakeSource({"/x": httpx.Response(status)})
    client = make_client(source)
    with pytest.raises(InvalidPayload, match=f"answered HTTP {status}.*will not help"):
        await client.get_json("/x")
    assert source.paths() == ["/x"]
    assert client.stats()["state"] == "closed"


@pytest.mark.parametrize("status", [401, 403, 407])
async def test_a_4xx_about_access_waits_for_the_config_to_be_fixed(make_client, status):
    source = FakeSource({"/x": httpx.Response(status)})
    client = make_client(source)
    with pytest.raises(SourceUnavailable, match=f"answered HTTP {status}; check"):
        await client.get_json("/x")


async def test_408_is_transient(make_client):
    source = FakeSource({"/x": responses(httpx.Response(408), OK)})
    client = make_client(source)
    assert await client.get_json("/x") == {"id": "a"}
    assert client.stats()["retries"] == 1


async def test_410_gone_is_not_found_too(make_client):
    client = make_client(FakeSource({"/x": httpx.Response(410)}))
    assert await client.get_json("/x") == NotFound("/x")


async def test_404_is_a_result_not_a_retry_and_is_cached(make_client):
    source = FakeSource()
    client = make_client(source)
    assert await client.get_json("/missing") == NotFound("/missing")
    assert await client.get_json("/missing") == NotFound("/missing")
    assert len(source.requests) == 1
    stats = client.stats()
    assert (stats["not_found"], stats["retries"], stats["errors"], stats["cache_hits"]) == (
        1,
        0,
        0,
        1,
    )


async def test_5xx_and_transport_errors_are_retried_with_exponential_backoff(
    make_client, fake_time
):
    route = responses(
        httpx.Response(500),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(502),
        OK,
    )
    source = FakeSource({"/x": route})
    client = make_client(source, backoff_base_seconds=0.5, backoff_max_seconds=3.0)
    assert await client.get_json("/x") == {"id": "a"}
    assert len(source.requests) == 5
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 3.0]  # doubling, capped at the maximum
    stats = client.stats()
    assert (stats["retries"], stats["errors"], stats["state"]) == (4, 4, "closed")
    assert stats["consecutive_failures"] == 0


async def test_backoff_has_full_jitter(fake_time):
    source = FakeSource({"/x": responses(httpx.Response(503), OK)})
    from mdsd.connectors.http import SourceClient

    client = SourceClient(
        "test",
        SourcePolicy("http://s.test", backoff_base_seconds=1.0),
        transport=source.transport,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        jitter=lambda: 0.25,
    )
    await client.get_json("/x")
    assert fake_time.sleeps == [0.25]


async def test_gives_up_after_max_retries(make_client):
    source = FakeSource({"/x": httpx.Response(503)})
    client = make_client(source, max_retries=2)
    with pytest.raises(SourceUnavailable, match=r"failed after 3 attempts: GET /x: HTTP 503"):
        await client.get_json("/x")
    assert len(source.requests) == 3
    assert client.stats()["unavailable"] == 1
    assert client.stats()["last_error"] == "GET /x: HTTP 503"


async def test_other_4xx_fail_at_once(make_client):
    source = FakeSource({"/x": httpx.Response(403)})
    client = make_client(source)
    with pytest.raises(SourceUnavailable, match="HTTP 403"):
        await client.get_json("/x")
    assert len(source.requests) == 1
    assert client.stats()["state"] == "closed"


async def test_body_that_is_not_json_is_an_invalid_payload(make_client):
    client = make_client(FakeSource({"/x": httpx.Response(200, text="<html>")}))
    with pytest.raises(InvalidPayload, match="body is not JSON"):
        await client.get_json("/x")


async def test_429_retry_after_is_honoured(make_client, fake_time):
    throttled = httpx.Response(429, headers={"Retry-After": "3"})
    source = FakeSource({"/x": responses(throttled, OK)})
    client = make_client(source)
    assert await client.get_json("/x") == {"id": "a"}
    assert fake_time.sleeps == [3.0]  # exactly what the source asked, no extra backoff
    stats = client.stats()
    assert (stats["rate_limited"], stats["retries"], stats["errors"]) == (1, 1, 0)


async def test_retry_after_holds_every_caller(make_client, fake_time):
    throttled = httpx.Response(429, headers={"Retry-After": "2"})
    source = FakeSource({"/x": throttled, "/y": {"id": "y"}})
    client = make_client(source, max_retries=0)
    with pytest.raises(SourceUnavailable, match="429"):
        await client.get_json("/x")
    assert fake_time.sleeps == []
    assert await client.get_json("/y") == {"id": "y"}  # waits out the hold /x was given
    assert fake_time.sleeps == [2.0]


async def test_503_retry_after_is_honoured(make_client, fake_time):
    down = httpx.Response(503, headers={"Retry-After": "7"})
    client = make_client(FakeSource({"/x": responses(down, OK)}))
    assert await client.get_json("/x") == {"id": "a"}
    assert fake_time.sleeps == [7.0]


async def test_retry_after_longer_than_backoff_max_fails_fast(make_client, fake_time):
    throttled = httpx.Response(429, headers={"Retry-After": "45"})
    source = FakeSource({"/x": responses(throttled, OK)})
    client = make_client(source)
    with pytest.raises(SourceUnavailable, match="asked to wait 45s"):
        await client.get_json("/x")
    assert fake_time.sleeps == []
    assert len(source.requests) == 1


@pytest.mark.parametrize("value", ["999999999", "inf", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_a_huge_retry_after_holds_the_source_a_minute_not_for_good(
    make_client, fake_time, value
):
    """``Retry-After: inf`` held every read of the source until a restart, and a date
    years ahead as good as that: the hold is capped, then the source is asked again."""
    throttled = httpx.Response(429, headers={"Retry-After": value})
    client = make_client(FakeSource({"/x": responses(throttled, OK)}), backoff_max_seconds=90)
    assert await client.get_json("/x") == {"id": "a"}
    assert fake_time.sleeps == [pytest.approx(MAX_RETRY_AFTER_SECONDS)]


def test_retry_after_http_date():
    later = datetime.now(UTC) + timedelta(seconds=50)
    assert _retry_after_seconds(format_datetime(later, usegmt=True)) == pytest.approx(50, abs=2)
    assert _retry_after_seconds("1.5") == 1.5
    assert _retry_after_seconds("soon") is None
    assert _retry_after_seconds("nan") is None
    assert _retry_after_seconds("-5") == 0.0
    assert _retry_after_seconds(None) is None


async def test_breaker_opens_fails_fast_then_half_opens(make_client, fake_time):
    source = FakeSource({"/x": httpx.Response(500)})
    client = make_client(source, max_retries=0, breaker_failures=3, breaker_reset_seconds=30)
    for _ in range(3):
        with pytest.raises(SourceUnavailable, match="failed after 1 attempts"):
            await client.get_json("/x", cache=False)
    assert client.stats()["state"] == "open"

    with pytest.raises(SourceUnavailable, match="circuit open after 3 consecutive failures"):
        await client.get_json("/x", cache=False)
    assert len(source.requests) == 3  # failed fast, the source was left alone

    fake_time.now += 30
    assert client.stats()["state"] == "half_open"
    with pytest.raises(SourceUnavailable):  # the probe fails: open again for another 30 s
        await client.get_json("/x", cache=False)
    assert len(source.requests) == 4
    assert client.stats()["state"] == "open"

    fake_time.now += 30
    source.routes["/x"] = OK
    assert await client.get_json("/x", cache=False) == {"id": "a"}
    assert client.stats()["state"] == "closed"
    assert client.stats()["consecutive_failures"] == 0


async def test_half_open_lets_a_single_probe_through(make_client, fake_time):
    gate = asyncio.Event()

    async def slow_ok(request):
        await gate.wait()
        return OK

    source = FakeSource({"/x": httpx.Response(500)})
    client = make_client(source, max_retries=0, breaker_failures=1, breaker_reset_seconds=5)
    with pytest.raises(SourceUnavailable):
        await client.get_json("/x", cache=False)
    fake_time.now += 5
    source.routes["/x"] = slow_ok
    probe = asyncio.create_task(client.get_json("/x", cache=False))
    await asyncio.sleep(0.01)
    with pytest.raises(SourceUnavailable, match="circuit open"):
        await client.get_json("/x", cache=False)
    gate.set()
    assert await probe == {"id": "a"}
    assert client.stats()["state"] == "closed"


async def test_a_cancelled_probe_lets_the_next_call_probe(make_client, fake_time):
    source = FakeSource({"/x": httpx.Response(500)})
    client = make_client(source, max_retries=0, breaker_failures=1, breaker_reset_seconds=5)
    with pytest.raises(SourceUnavailable):
        await client.get_json("/x", cache=False)
    fake_time.now += 5

    async def never(request):
        await asyncio.Event().wait()

    source.routes["/x"] = never
    probe = asyncio.create_task(client.get_json("/x", cache=False))
    await asyncio.sleep(0.01)
    probe.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await probe
    source.routes["/x"] = OK
    assert await client.get_json("/x", cache=False) == {"id": "a"}


async def test_rate_limit_spaces_requests_after_the_burst(make_client, fake_time):
    sent_at: list[float] = []

    def record(request):
        sent_at.append(fake_time.now)
        return OK

    client = make_client(
        FakeSource({f"/{i}": record for i in range(6)}), rate_per_second=10, burst=2
    )
    await asyncio.gather(*(client.get_json(f"/{i}") for i in range(6)))
    assert sent_at == pytest.approx([1000.0, 1000.0, 1000.1, 1000.2, 1000.3, 1000.4])


async def test_concurrency_limit(make_client):
    active = peak = 0

    async def slow(request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        active -= 1
        return OK

    client = make_client(FakeSource({f"/{i}": slow for i in range(10)}), concurrency=3)
    await asyncio.gather(*(client.get_json(f"/{i}") for i in range(10)))
    assert peak == 3
    assert client.stats()["in_flight"] == 0


async def test_cache_hit_avoids_a_request_until_the_ttl_passes(make_client, fake_time):
    source = FakeSource({"/x": {"id": "a"}})
    client = make_client(source, cache_ttl_seconds=5)
    await client.get_json("/x")
    await client.get_json("/x")
    assert len(source.requests) == 1
    assert client.stats()["cache_hits"] == 1
    fake_time.now += 5
    await client.get_json("/x")
    assert len(source.requests) == 2


async def test_cache_is_keyed_by_url_with_query(make_client):
    source = FakeSource({"/u": {"users": []}})
    client = make_client(source)
    await client.get_json("/u", {"email": "a@x"})
    await client.get_json("/u", {"email": "b@x"})
    await client.get_json("/u", {"email": "a@x"})
    assert source.paths() == ["/u", "/u"]
    assert [r.url.params["email"] for r in source.requests] == ["a@x", "b@x"]


async def test_invalidate_forces_a_fresh_read(make_client):
    source = FakeSource({"/x": {"id": "a"}})
    client = make_client(source)
    await client.get_json("/x")
    client.invalidate("/x")
    await client.get_json("/x")
    assert len(source.requests) == 2


async def test_cache_is_bounded(make_client):
    source = FakeSource({"/a": {}, "/b": {}, "/c": {}})
    client = make_client(source, cache_max_entries=2)
    for path in ("/a", "/b", "/c", "/a"):
        await client.get_json(path)
    assert source.paths() == ["/a", "/b", "/c", "/a"]  # /a was evicted first
    assert client.stats()["cache_entries"] == 2


async def test_concurrent_identical_gets_coalesce(make_client):
    gate = asyncio.Event()

    async def slow(request):
        await gate.wait()
        return OK

    source = FakeSource({"/x": slow})
    client = make_client(source)
    calls = [asyncio.create_task(client.get_json("/x")) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*calls) == [{"id": "a"}] * 5
    assert len(source.requests) == 1
    assert client.stats()["coalesced"] == 4


async def test_a_request_in_flight_is_not_joined_after_invalidate(make_client):
    gate = asyncio.Event()
    answers = iter([{"v": 1}, {"v": 2}])

    async def slow(request):
        body = next(answers)
        if body["v"] == 1:
            await gate.wait()
        return httpx.Response(200, json=body)

    source = FakeSource({"/x": slow})
    client = make_client(source)
    before = asyncio.create_task(client.get_json("/x"))
    await asyncio.sleep(0.01)
    client.invalidate("/x")  # an event said /x changed after that request left
    assert await client.get_json("/x") == {"v": 2}
    gate.set()
    assert await before == {"v": 1}
    assert await client.get_json("/x") == {"v": 2}  # the stale answer was not cached
    assert len(source.requests) == 2


async def test_one_caller_giving_up_does_not_cancel_the_shared_request(make_client):
    gate = asyncio.Event()

    async def slow(request):
        await gate.wait()
        return OK

    client = make_client(FakeSource({"/x": slow}))
    first = asyncio.create_task(client.get_json("/x"))
    second = asyncio.create_task(client.get_json("/x"))
    await asyncio.sleep(0.01)
    first.cancel()
    gate.set()
    assert await second == {"id": "a"}


async def test_asgi_transport(fake_time):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from mdsd.connectors.http import SourceClient

    async def model(request):
        return JSONResponse({"id": request.path_params["model_id"]})

    app = Starlette(routes=[Route("/api/v1/models/{model_id}", model)])
    client = SourceClient(
        "registry", SourcePolicy("http://registry.test"), transport=httpx.ASGITransport(app)
    )
    assert await client.get_json("/api/v1/models/m%20x") == {"id": "m x"}
    assert isinstance(await client.get_json("/api/v1/nothing"), NotFound)
    await client.aclose()


def test_stats_keys(make_client):
    client = make_client(FakeSource())
    assert set(client.stats()) == {
        "state",
        "requests",
        "errors",
        "retries",
        "rate_limited",
        "not_found",
        "cache_hits",
        "coalesced",
        "unavailable",
        "in_flight",
        "consecutive_failures",
        "cache_entries",
        "last_error",
    }


def test_policy_loads_from_a_config_table_with_defaults():
    policy = serde.from_dict(SourcePolicy, {"base_url": "http://r.test", "concurrency": 2})
    assert policy == SourcePolicy("http://r.test", concurrency=2)
    assert policy.cache_ttl_seconds == 5.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("concurrency", 0, "concurrency must be >= 1, got 0"),
        ("rate_per_second", 0.0, "rate_per_second must be > 0, got 0.0"),
        ("max_retries", -1, "max_retries must be >= 0, got -1"),
    ],
)
def test_policy_rejects_nonsense_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        SourcePolicy("http://r.test", **{field: value})
    with pytest.raises(ValueError, match="base_url must start with http"):
        SourcePolicy("r.test")
