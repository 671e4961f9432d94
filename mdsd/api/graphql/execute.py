"""One GraphQL request over HTTP: the body in, ``{"data", "errors", "extensions"}`` out.

A malformed request (no query, variables not an object) is a ``BadQuery`` the API turns
into a 400; everything GraphQL itself can answer (validation, missing entities, limits)
is a 200 whose ``errors`` each carry ``extensions.code``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from graphql import GraphQLError
from strawberry.types import ExecutionResult

from mds.wire import JSON
from mdsd.api.graphql.context import GraphContext, Services
from mdsd.api.graphql.schema import error_code, schema
from mdsd.api.ports import Search
from mdsd.reads.cost import ReadLimits, ReadRunner
from mdsd.reads.queries import BadQuery, NotFound
from mdsd.reads.units import UnitTimes
from mdsd.reads.views import describe
from mdsd.reads.workers import ProcessReader
from store import Db, FactStore


def _request(body: Mapping[str, Any]) -> tuple[str, JSON | None, str | None]:
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadQuery('a GraphQL request needs "query": a non-empty string')
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadQuery('"variables" must be a JSON object')
    operation = body.get("operationName")
    if operation is not None and not isinstance(operation, str):
        raise BadQuery('"operationName" must be a string')
    return query, variables, operation


async def execute(
    body: Mapping[str, Any],
    store: FactStore,
    services: Services | None = None,
    as_of: str | None = None,
    limits: ReadLimits | None = None,
    known_at: str | None = None,
) -> JSON:
    """Run one request against ``store`` pinned now; ``as_of`` (valid time) and ``known_at``
    (system time) are the roots' default moments (a bad one raises ``AsOfError``, like
    every other endpoint); ``limits`` bound its work."""
    return await execute_at(body, store.db(), services, as_of, limits, known_at)


async def execute_at(
    body: Mapping[str, Any],
    current: Db,
    services: Services | None = None,
    as_of: str | None = None,
    limits: ReadLimits | None = None,
    known_at: str | None = None,
) -> JSON:
    """``execute`` with ``current`` as the graph now (a read worker's view of the moment
    the request arrived at the daemon)."""
    query, variables, operation = _request(body)
    context = GraphContext.open(current, as_of, services, limits, known_at)
    try:
        async with asyncio.timeout(context.meter.limits.seconds):
            result = await schema.execute(
                query, variable_values=variables, context_value=context, operation_name=operation
            )
    except TimeoutError:
        # The engine's own work (completing values, resolving types, building errors) is
        # not charged: the fan-out query ran 3-20 s past its deadline. Stopped wherever it is.
        overdue = context.meter.stop_overdue()
        result = ExecutionResult(
            data=None, errors=[GraphQLError(str(overdue), original_error=overdue)]
        )
    return render(result, context)


def render(result: ExecutionResult, context: GraphContext) -> JSON:
    answer: JSON = {"data": result.data}
    if context.meter.exceeded:
        # one error, not one per field the exhausted meter failed
        first = next(e for e in result.errors or [] if error_code(e) == "QUERY_TOO_LARGE")
        answer = {"data": None, "errors": [_error(first)]}
    elif result.errors:
        answer["errors"] = [_error(e) for e in result.errors]
    answer["extensions"] = {"as_of": describe(context.default.db)}
    return answer


def _error(error: GraphQLError) -> JSON:
    formatted: JSON = dict(error.formatted)
    extensions: JSON = dict(error.extensions or {})
    formatted["extensions"] = {**extensions, "code": error_code(error)}
    original = error.original_error
    if isinstance(original, NotFound) and original.known_from is not None:
        # as of a valid time before the entity's known history: where that begins
        formatted["extensions"]["knownFrom"] = original.known_from
    return formatted


class OnLoop:
    """The daemon's services for a request executing on a read thread: each call runs on the
    daemon's own event loop, where the journal and the search index are used."""

    def __init__(self, services: Services, loop: asyncio.AbstractEventLoop) -> None:
        self._services = services
        self._loop = loop

    @property
    def search(self) -> Search:
        return self._search

    @property
    def unit_times(self) -> Callable[[str], Awaitable[UnitTimes]]:
        return self._unit_times

    def _search(self, query: str, **options: Any) -> JSON:
        async def on_loop() -> JSON:
            return self._services.search(query, **options)

        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result()

    async def _unit_times(self, xid: str) -> UnitTimes:
        async def on_loop() -> UnitTimes:
            return await self._services.unit_times(xid)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(on_loop(), self._loop))


async def execute_on_reader(
    reader: ReadRunner,
    body: Mapping[str, Any],
    store: FactStore,
    services: Services | None,
    as_of: str | None,
    known_at: str | None = None,
) -> bytes:
    """``execute`` in one of ``reader``'s worker processes, or else on one of its threads
    with an event loop of its own, as encoded JSON: the daemon's loop stays free for
    acknowledgements however big the query."""
    if isinstance(reader, ProcessReader):
        return await reader.run("graphql", store.db(), body, as_of, known_at)
    bound = OnLoop(services, asyncio.get_running_loop()) if services is not None else None
    return await reader.on_own_loop(
        lambda: execute(body, store, bound, as_of, reader.limits, known_at)
    )
