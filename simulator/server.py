"""The HTTP API of all six reference sources (contract 1.2) over one world, on one app.

One base URL serves every source, so a daemon config can point each ``[sources.KEY]`` at the
same simulator. Serving an entity is a lookup of bytes the world rendered once per change:
hydration benchmarks need the simulator to be much faster than the daemon.

Besides the contract's endpoints: ``GET /_truth`` (ground truth), ``POST /_mutate?n=K``
(apply K changes now; their events are returned and published) and ``GET /_stats`` (requests
per endpoint, injected chaos, emitted events). These are never subject to chaos.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.chaos import Chaos, ResponseChaos
from simulator.records import COLLECTIONS, Event
from simulator.world import World

Publish = Callable[[list[Event]], Awaitable[None]]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_MUTATIONS = 100_000


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _positive_int(request: Request, name: str, default: int, most: int) -> int:
    """A positive integer query parameter, capped at ``most`` (as listing APIs cap pages)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return min(value, most)


def _endpoint(scope: Scope) -> str:
    """The endpoint a request hits, as a template (``GET /api/v1/models/{id}``)."""
    parts = scope["path"].strip("/").split("/")
    collection = parts[2] if len(parts) > 2 and parts[2] in COLLECTIONS else "(unknown)"
    template = f"/api/v1/{collection}" + ("/{id}" if len(parts) > 3 else "")
    if collection == "users" and len(parts) == 3 and b"email=" in scope["query_string"]:
        template += "?email"
    return f"{scope['method']} {template}"


class _SourceChaosMiddleware:
    """Counts API requests per endpoint and makes the sources misbehave as configured."""

    def __init__(self, app: ASGIApp, responses: ResponseChaos, requests: Counter[str]) -> None:
        self.app = app
        self.responses = responses
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        self.requests[_endpoint(scope)] += 1
        if self.responses.active:
            if delay := self.responses.delay_s():
                await asyncio.sleep(delay)
            status = self.responses.verdict()
            if status == 429:
                retry_after = str(self.responses.chaos.retry_after_s)
                await _error(429, "rate limited", {"Retry-After": retry_after})(
                    scope, receive, send
                )
                return
            if status is not None:
                await _error(status, "injected failure")(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _SourceApi:
    """The request handlers, over one world."""

    def __init__(
        self,
        world: World,
        responses: ResponseChaos,
        requests: Counter[str],
        publish: Publish | None,
        event_stats: Callable[[], Mapping[str, int]] | None,
    ) -> None:
        self.world = world
        self.responses = responses
        self.requests = requests
        self.publish = publish
        self.event_stats = event_stats

    async def entity(self, request: Request) -> Response:
        collection, native_id = request.path_params["collection"], request.path_params["native_id"]
        if collection not in COLLECTIONS:
            return _error(404, f"unknown collection {collection!r}")
        body = self.world.render(collection, native_id)
        if body is None:
            return _error(404, f"{collection} {native_id!r} does not exist")
        return _json(body)

    async def listing(self, request: Request) -> Response:
        collection = request.path_params["collection"]
        if collection not in COLLECTIONS:
            return _error(404, f"unknown collection {collection!r}")
        email = request.query_params.get("email")
        if collection == "users" and email is not None:
            return JSONResponse({"users": self.world.users_with_email(email)})
        try:
            limit = _positive_int(request, "limit", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            items, token = self.world.page(
                collection, limit, request.query_params.get("page_token")
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse({"items": items, "next_page_token": token})

    async def truth(self, request: Request) -> Response:
        return _json(self.world.truth_json())

    async def mutate(self, request: Request) -> Response:
        try:
            n = _positive_int(request, "n", 1, MAX_MUTATIONS)
        except ValueError as exc:
            return _error(400, str(exc))
        events = self.world.mutate_many(n)
        if self.publish is not None:
            await self.publish(events)
        return JSONResponse({"events": events})

    async def stats(self, request: Request) -> Response:
        body: dict[str, Any] = {
            "requests": dict(self.requests),
            "requests_total": self.requests.total(),
            "injected": dict(self.responses.injected),
            "events": dict(self.event_stats()) if self.event_stats else {},
            "entities": self.world.counts(),
        }
        return JSONResponse(body)


def create_app(
    world: World,
    *,
    chaos: Chaos | None = None,
    publish: Publish | None = None,
    event_stats: Callable[[], Mapping[str, int]] | None = None,
) -> Starlette:
    """The ASGI app serving ``world``.

    ``publish`` receives the events of ``POST /_mutate`` (to deliver them to the daemon);
    ``event_stats`` supplies the emitter's counters to ``GET /_stats``.
    """
    responses = ResponseChaos(chaos or Chaos())
    requests: Counter[str] = Counter()
    api = _SourceApi(world, responses, requests, publish, event_stats)
    routes = [
        Route("/api/v1/{collection}", api.listing),
        Route("/api/v1/{collection}/{native_id}", api.entity),
        Route("/_truth", api.truth),
        Route("/_mutate", api.mutate, methods=["POST"]),
        Route("/_stats", api.stats),
    ]
    middleware = [Middleware(_SourceChaosMiddleware, responses=responses, requests=requests)]
    return Starlette(routes=routes, middleware=middleware)
