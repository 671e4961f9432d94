"""The daemon's HTTP API (docs/api.md) as a Starlette app, served on the Unix socket.

Handlers only parse parameters, pick the view and call the reads (``mdsd.reads``) or the
services the composition root hands over (``mdsd.api.ports``); every error is a JSON
document with a message a person can act on and the right status, answered by the app's
exception handlers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import HTTPExceptionHandler

from mds.wire import shapes
from mds.wire.moments import AsOfError, iso_epoch
from mdsd.api import graphql
from mdsd.api.ports import PrimaryOnly, Ready, Services
from mdsd.base import jsondepth
from mdsd.base.bodies import BodyTooLarge, read_body
from mdsd.base.faults import StorageFault
from mdsd.index import MAX_SEARCH_LIMIT, QueryError
from mdsd.reads import columns, insights, queries
from mdsd.reads.cost import TooCostly, encode
from mdsd.reads.views import view
from mdsd.reads.workers import ReadUnavailable
from store import Db

PING_SECONDS = 15.0
#: transaction ids are unsigned 64-bit; a long-lived daemon passes any smaller cap
MAX_TX = 2**63 - 1
#: a JSON request body (a GraphQL query and its variables, a redrive's ids) is read up to
#: this size; a query is a few kilobytes
MAX_JSON_BODY_BYTES = 4 * 2**20

#: The shape of each route's answers (docs/api.md), the one the client decodes them with;
#: two where the parameters choose (history: of one entity, or of the graph). Every route
#: refuses with ``shapes.Error``; ``/v1/changes`` streams ``shapes.Notice`` events.
ANSWERS: dict[str, tuple[type[shapes.Shape], ...]] = {
    "/v1/events": (shapes.Ingested,),
    "/api/v1/lineage": (shapes.Ingested,),
    "/v1/status": (shapes.Status,),
    "/v1/search": (shapes.Search,),
    "/v1/owners/search": (shapes.Search,),
    "/v1/entity": (shapes.Entity,),
    "/v1/neighbors": (shapes.Neighbors,),
    "/v1/lineage": (shapes.Lineage,),
    "/v1/impact": (shapes.Impact,),
    "/v1/dependencies": (shapes.Dependencies,),
    "/v1/usage": (shapes.Usage,),
    "/v1/path": (shapes.Path,),
    "/v1/history": (shapes.History, shapes.GraphHistory),
    "/v1/dead-letters": (shapes.DeadLetters,),
    "/v1/dead-letters/redrive": (shapes.Redriven,),
    "/v1/reconcile": (shapes.Reconcile,),
    "/v1/backup": (shapes.Backup,),
    "/v1/wait-idle": (shapes.WaitIdle,),
    "/v1/similar": (shapes.SimilarModels,),
    "/v1/suggestions": (shapes.Suggestions,),
    "/v1/quality": (shapes.Quality,),
    "/v1/changes": (shapes.Notice,),
    "/v1/graphql": (shapes.GraphQL,),
}
#: how long a client refused for a storage fault is asked to wait (the daemon probes the
#: disk more often than this, and resumes on its own)
STORAGE_RETRY_SECONDS = 5


class JSONResponse(StarletteJSONResponse):
    """JSON encoded as the reads encode their answers (``mdsd.reads.cost.encode``)."""

    def render(self, content: Any) -> bytes:
        return encode(content)


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def storage_error(fault: StorageFault) -> JSONResponse:
    """Work refused because the daemon's disk failed: 507 when it is full, else 503; not
    an error of the request, which may be sent again (after ``Retry-After`` seconds)."""
    status, code = (507, "insufficient_storage") if fault.no_space else (503, "storage_fault")
    response = error(status, code, str(fault))
    response.headers["Retry-After"] = str(STORAGE_RETRY_SECONDS)
    return response


class Starting(Exception):
    """The daemon is still opening its stores."""


class TooLarge(Exception):
    """The request body is over its cap; it was not read past it."""


async def capped_body(request: Request, cap: int) -> bytes:
    """The events body, refused (``TooLarge``) as soon as it is known to be over ``cap``
    bytes: by its Content-Length before any of it is read, else once that much has arrived."""
    try:
        return await read_body(request, cap)
    except BodyTooLarge as exc:
        size = f"{exc.size:,}" if exc.declared else f"more than {exc.size:,}"
        raise TooLarge(
            f"request body is {size} bytes, over intake.max_request_bytes ({cap:,}): send the "
            "events in parts, or drop a .jsonl file into the daemon's inbox directory, which "
            "is read line by line at any size"
        ) from None


def _int(request: Request, name: str, default: int, *, low: int = 0, high: int = 1_000_000) -> int:
    return int(_number(request, name, default, int, "an integer", low, high))


def _number(
    request: Request,
    name: str,
    default: float,
    parse: Callable[[str], float],
    kind: str,
    low: float,
    high: float,
) -> float:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise queries.BadQuery(f"{name} must be {kind}, not {raw!r}") from None
    if not low <= value <= high:  # NaN fails this too
        raise queries.BadQuery(f"{name} must be between {low} and {high}, not {value}")
    return value


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise queries.BadQuery(f"missing required parameter {name!r}")
    return value


def create_app(services: Ready) -> Starlette:
    """The API over the services of one daemon (``services()`` is None until it is up)."""

    def ready() -> Services:
        up = services()
        if up is None:
            raise Starting("mdsd is still starting; retry in a moment")
        return up

    def db(request: Request) -> Db:
        """The view the request names: ``as_of`` (valid time), ``known_at`` (system time)."""
        params = request.query_params
        return view(ready().facts, params.get("as_of"), params.get("known_at"))

    async def read(request: Request, query: Callable[..., Any], *args: Any, **kw: Any) -> Response:
        """``query`` on the request's view, on a read thread and within the read limits."""
        encoded = await ready().reader.query(db(request), query, *args, **kw)
        return Response(encoded, media_type="application/json")

    async def events(request: Request) -> Response:
        # ``name``: the file the events come from (``mds ingest FILE``), so ``.jsonl`` means
        # lines as in the inbox, and dead letters say where they came from
        name = request.query_params.get("name")
        origin = f"socket:{name}" if name else "socket"
        intake = ready().intake
        body = await capped_body(request, intake.max_request_bytes)
        if "first_line" in request.query_params:  # one part of JSON lines sent in pieces
            first_line = _int(request, "first_line", 1, low=1, high=2**53)
            first_index = _int(request, "first_index", 0, low=0, high=2**53)
            result = await intake.submit_part(body, origin, first_line, first_index)
        else:
            result = await intake.submit(body, origin)
        return JSONResponse(result.to_json())

    async def lineage_event(request: Request) -> Response:
        # the path OpenLineage's HTTP transports post to: one event, 201 once durable
        intake = ready().intake
        result = await intake.submit_lineage(
            await capped_body(request, intake.max_request_bytes), "lineage"
        )
        answer = result.to_json()
        if answer["rejected"]:
            return error(400, "bad_request", answer["rejected"][0]["reason"])
        return JSONResponse(answer, status_code=201)

    async def status(request: Request) -> Response:
        return JSONResponse(await ready().status())

    async def search(request: Request) -> Response:
        find = ready().search
        limit = _int(request, "limit", 20, low=1, high=MAX_SEARCH_LIMIT)
        answer = find(
            request.query_params.get("q", ""),
            entity_type=request.query_params.get("type"),
            limit=limit,
            db=db(request),
        )
        return JSONResponse(answer)

    async def search_owners(request: Request) -> Response:
        find = ready().search
        limit = _int(request, "limit", 20, low=1, high=MAX_SEARCH_LIMIT)
        return JSONResponse(
            find(request.query_params.get("q", ""), limit=limit, owners=True, db=db(request))
        )

    async def entity(request: Request) -> Response:
        d = ready()
        xid = _required(request, "id")
        state = await d.unit_state(xid)
        times = (state.last_ok_at, state.last_enriched_at) if state else None
        hydration = (
            {
                "failures": state.failures,
                "last_error": state.last_error,
                "next_attempt_at": iso_epoch(state.next_attempt_at),
            }
            if state and state.failures
            else None
        )
        encoded = await d.reader.query(
            db(request), queries.show, xid, times, stale_days=d.stale_days, hydration=hydration
        )
        # where its source shows it: the daemon's connectors know, the read workers do not
        page = orjson.loads(encoded)
        page["source_url"] = d.source_url(page)
        return Response(orjson.dumps(page), media_type="application/json")

    async def neighbors(request: Request) -> Response:
        return await read(request, queries.neighbors, _required(request, "id"))

    async def lineage(request: Request) -> Response:
        types = [t for t in request.query_params.get("types", "").split(",") if t]
        xid, field = _required(request, "id"), request.query_params.get("field")
        direction = request.query_params.get("direction", "upstream")
        depth = _int(request, "depth", queries.LINEAGE_DEPTH, high=queries.MAX_DEPTH)
        if field is None:
            return await read(request, queries.lineage, xid, direction, depth, types or None)
        if types:
            raise queries.BadQuery("types does not apply to a field's lineage (one edge type)")
        return await read(request, columns.field_lineage, xid, field, direction, depth)

    async def impact(request: Request) -> Response:
        return await read(request, queries.impact, _required(request, "id"))

    async def dependencies(request: Request) -> Response:
        return await read(request, queries.dependencies, _required(request, "id"))

    async def usage(request: Request) -> Response:
        return await read(request, queries.usage, _required(request, "id"))

    async def path(request: Request) -> Response:
        return await read(
            request,
            queries.path,
            _required(request, "from"),
            _required(request, "to"),
            _int(request, "max_depth", 8, low=1, high=20),
        )

    async def history(request: Request) -> Response:
        xid = request.query_params.get("id")
        limit = _int(request, "limit", 50, low=1, high=10_000)
        if xid:
            return await read(request, queries.history, xid, limit)
        before = request.query_params.get("before_tx")
        before_tx = _int(request, "before_tx", 0, high=MAX_TX) if before else None
        return await read(request, queries.graph_history, limit, before_tx)

    async def dead_letters(request: Request) -> Response:
        letters = await ready().dead_letters(_int(request, "limit", 100, low=1))
        return JSONResponse({"dead_letters": [d.to_json() for d in letters]})

    async def redrive(request: Request) -> Response:
        body = await _json_body(request)
        ids = body.get("ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)
        ):
            raise queries.BadQuery('"ids" must be a list of dead-letter ids (integers)')
        if ids is None and body.get("all") is not True:
            raise queries.BadQuery('give {"ids": [..]} or {"all": true}')
        return JSONResponse(await ready().redrive(ids))

    async def reconcile(request: Request) -> Response:
        return JSONResponse(ready().reconcile())

    async def backup(request: Request) -> Response:
        folder = (await _json_body(request)).get("dir")
        if not isinstance(folder, str) or not folder.startswith("/"):
            raise queries.BadQuery('give {"dir": "/absolute/path"}: a new or empty directory')
        return JSONResponse(await ready().backup(folder))

    async def wait_idle(request: Request) -> Response:
        d = ready()
        timeout = _number(request, "timeout", 60.0, float, "a number of seconds", 0, 86_400)
        idle = await d.wait_idle(timeout)
        body = {"idle": idle, **await d.status()}
        return JSONResponse(body, status_code=200 if idle else 408)

    async def similar(request: Request) -> Response:
        return await read(
            request, insights.similar, _required(request, "id"), _int(request, "limit", 10, low=1)
        )

    async def suggestions(request: Request) -> Response:
        return await read(
            request,
            insights.suggestions,
            _required(request, "id"),
            _int(request, "limit", 10, low=1),
        )

    async def quality(request: Request) -> Response:
        d = ready()
        stale_days = _int(request, "stale_days", d.stale_days, low=0)
        return JSONResponse(await d.quality(db(request), stale_days))

    async def graphql_query(request: Request) -> Response:
        d = ready()
        body = await _json_body(request)
        params = request.query_params
        moments = (params.get("as_of"), params.get("known_at"))
        encoded = await graphql.execute_on_reader(d.reader, body, d.facts, d, *moments)
        return Response(encoded, media_type="application/json")

    async def changes(request: Request) -> Response:
        feed = ready().changes

        async def stream() -> AsyncIterator[bytes]:
            yield b": connected\n\n"
            subscription: AsyncGenerator[dict[str, Any], None] = feed.subscribe()
            pending: asyncio.Task[dict[str, Any]] | None = None
            try:
                while True:
                    if pending is None:
                        pending = asyncio.ensure_future(anext(subscription))
                    done, _ = await asyncio.wait({pending}, timeout=PING_SECONDS)
                    if not done:
                        yield b": ping\n\n"
                        continue
                    try:
                        notice = pending.result()
                    except StopAsyncIteration:  # the daemon is shutting down
                        pending = None
                        return
                    pending = None
                    yield f"event: tx\ndata: {json.dumps(notice)}\n\n".encode()
            finally:
                # a next() in flight owns the generator: cancelling it closes the generator
                # where it waits; aclose() meanwhile would raise "already running"
                if pending is not None:
                    pending.cancel()
                else:
                    await subscription.aclose()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    routes = [
        Route("/v1/events", events, methods=["POST"]),
        Route("/api/v1/lineage", lineage_event, methods=["POST"]),
        Route("/v1/status", status),
        Route("/v1/search", search),
        Route("/v1/owners/search", search_owners),
        Route("/v1/entity", entity),
        Route("/v1/neighbors", neighbors),
        Route("/v1/lineage", lineage),
        Route("/v1/impact", impact),
        Route("/v1/dependencies", dependencies),
        Route("/v1/usage", usage),
        Route("/v1/path", path),
        Route("/v1/history", history),
        Route("/v1/dead-letters", dead_letters),
        Route("/v1/dead-letters/redrive", redrive, methods=["POST"]),
        Route("/v1/reconcile", reconcile, methods=["POST"]),
        Route("/v1/backup", backup, methods=["POST"]),
        Route("/v1/wait-idle", wait_idle),
        Route("/v1/similar", similar),
        Route("/v1/suggestions", suggestions),
        Route("/v1/quality", quality),
        Route("/v1/changes", changes),
        Route("/v1/graphql", graphql_query, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)


async def _json_body(request: Request) -> dict[str, Any]:
    """A JSON object body (GraphQL, redrive), capped in size and in nesting depth."""
    try:
        raw = await read_body(request, MAX_JSON_BODY_BYTES)
    except BodyTooLarge as exc:
        raise TooLarge(str(exc)) from None
    if not raw:
        return {}
    try:
        body = jsondepth.loads(raw)
    except jsondepth.TooDeep as exc:
        raise queries.BadQuery(f"body refused: {exc}") from None
    except ValueError as exc:
        raise queries.BadQuery(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise queries.BadQuery("body must be a JSON object")
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # the handler registered for it alone
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    message = (
        exc.detail
        if exc.status_code != 404
        else f"no such endpoint: {request.url.path} (see docs/api.md)"
    )
    return error(exc.status_code, code, str(message))


async def _storage_fault(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageFault)  # the handler registered for it alone
    return storage_error(exc)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug answers JSON like every other error (the server still logs the traceback)."""
    return error(500, "internal", f"mdsd failed on {request.url.path}: {type(exc).__name__}: {exc}")


def _answer(status: int, code: str) -> HTTPExceptionHandler:
    """The handler answering an exception the routes raise on purpose: its message, as
    the JSON error ``code`` with ``status``."""

    async def handle(request: Request, exc: Exception) -> Response:
        return error(status, code, str(exc))

    return handle


async def _not_found(request: Request, exc: Exception) -> Response:
    """A 404; as of a valid time before the entity's known history, where that begins."""
    assert isinstance(exc, queries.NotFound)  # the handler registered for it alone
    body: dict[str, Any] = {"code": "not_found", "message": str(exc)}
    if exc.known_from is not None:
        body["known_from"] = exc.known_from
    return JSONResponse({"error": body}, status_code=404)


#: every error a route raises, as the JSON document it answers (a bug is a 500)
EXCEPTION_HANDLERS: dict[type[Exception], HTTPExceptionHandler] = {
    queries.NotFound: _not_found,
    queries.BadQuery: _answer(400, "bad_request"),
    AsOfError: _answer(400, "bad_request"),
    QueryError: _answer(400, "bad_request"),
    Starting: _answer(503, "starting"),
    PrimaryOnly: _answer(409, "read_only_replica"),
    TooLarge: _answer(413, "too_large"),
    TooCostly: _answer(422, "too_costly"),
    ReadUnavailable: _answer(503, "unavailable"),
    StorageFault: _storage_fault,
    HTTPException: _http_error,
    Exception: _internal_error,
}
