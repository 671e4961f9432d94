"""The daemon's API as requests, apart from how they are sent.

``Api`` states every question that is one request and one answer (docs/api.md) once, as a
``Call``; a client says how to send one (``send``). The async client (``mds.client``, for
the TUI, streams and TCP) returns a coroutine, the CLI's socket client
(``mds.socket_client``, no asyncio nor httpx to import) the answer itself: the same
methods, written once, give ``await client.entity(...)`` in one and ``client.entity(...)``
in the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mds.wire import JSON, shapes

#: what ``send`` gives: the answer, or an awaitable of it
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Call:
    """One request and the shape of its answer; parameters that are None are not sent."""

    method: str
    path: str
    shape: type[shapes.Shape]
    params: Mapping[str, Any] = field(default_factory=dict)
    json_body: Any = None
    content: bytes | None = None
    #: seconds to wait for this answer, when not the client's own
    timeout: float | None = None
    #: statuses besides 2xx whose body is the answer (a timed-out wait's 408)
    ok_statuses: tuple[int, ...] = ()

    @property
    def query(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if v is not None}


def read(shape: type[shapes.Shape], path: str, **params: Any) -> Call:
    """``GET path?params``, checked against ``shape``."""
    return Call("GET", path, shape, params)


class Api(Generic[R]):
    """Every one-request question of the daemon API; subclasses say how to ``send``."""

    def send(self, call: Call) -> R:
        raise NotImplementedError

    def _about(
        self,
        shape: type[shapes.Shape],
        path: str,
        id: str,
        as_of: str | None,
        known_at: str | None,
        **more: Any,
    ) -> R:
        """A read about the entity ``id``, in the view ``as_of`` and ``known_at`` pick."""
        return self.send(read(shape, path, id=id, as_of=as_of, known_at=known_at, **more))

    def status(self) -> R:
        return self.send(read(shapes.Status, "/v1/status"))

    def search(
        self,
        q: str,
        *,
        type: str | None = None,
        limit: int = 20,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        return self.send(
            read(
                shapes.Search,
                "/v1/search",
                q=q,
                type=type,
                limit=limit,
                as_of=as_of,
                known_at=known_at,
            )
        )

    def search_owners(self, q: str, *, limit: int = 20) -> R:
        return self.send(read(shapes.Search, "/v1/owners/search", q=q, limit=limit))

    def entity(self, id: str, *, as_of: str | None = None, known_at: str | None = None) -> R:
        return self._about(shapes.Entity, "/v1/entity", id, as_of, known_at)

    def neighbors(self, id: str, *, as_of: str | None = None, known_at: str | None = None) -> R:
        return self._about(shapes.Neighbors, "/v1/neighbors", id, as_of, known_at)

    def lineage(
        self,
        id: str,
        *,
        direction: str = "upstream",
        depth: int | None = None,
        types: list[str] | None = None,
        field: str | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        """The lineage of ``id``, or with ``field`` of that field of the dataset ``id``."""
        return self._about(
            shapes.Lineage,
            "/v1/lineage",
            id,
            as_of,
            known_at,
            direction=direction,
            depth=depth,
            types=",".join(types) if types else None,
            field=field,
        )

    def impact(self, id: str, *, as_of: str | None = None, known_at: str | None = None) -> R:
        return self._about(shapes.Impact, "/v1/impact", id, as_of, known_at)

    def usage(self, id: str, *, as_of: str | None = None, known_at: str | None = None) -> R:
        return self._about(shapes.Usage, "/v1/usage", id, as_of, known_at)

    def path(
        self,
        source: str,
        target: str,
        *,
        max_depth: int | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        ends = {"from": source, "to": target}
        return self.send(
            read(
                shapes.Path, "/v1/path", **ends, max_depth=max_depth, as_of=as_of, known_at=known_at
            )
        )

    def dependencies(self, id: str, *, as_of: str | None = None, known_at: str | None = None) -> R:
        return self._about(shapes.Dependencies, "/v1/dependencies", id, as_of, known_at)

    def history(
        self,
        id: str | None = None,
        *,
        limit: int | None = None,
        before_tx: int | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        """One entity's transactions with ``id``, else the whole graph's, newest first."""
        shape = shapes.History if id else shapes.GraphHistory
        params = {
            "id": id,
            "limit": limit,
            "before_tx": before_tx,
            "as_of": as_of,
            "known_at": known_at,
        }
        return self.send(read(shape, "/v1/history", **params))

    def dead_letters(self, *, limit: int | None = None) -> R:
        return self.send(read(shapes.DeadLetters, "/v1/dead-letters", limit=limit))

    def redrive(self, ids: list[int] | None = None) -> R:
        """Redrive the dead letters ``ids``, or all of them when ``ids`` is None (an empty
        list redrives nothing, so a filter that matched nothing cannot redrive everything)."""
        body: JSON = {"ids": ids} if ids is not None else {"all": True}
        return self.send(Call("POST", "/v1/dead-letters/redrive", shapes.Redriven, json_body=body))

    def reconcile(self) -> R:
        return self.send(Call("POST", "/v1/reconcile", shapes.Reconcile))

    def wait_idle(self, timeout: float = 60.0) -> R:
        """``{"idle": bool, ...}``; ``idle`` is false when ``timeout`` ran out first."""
        return self.send(
            Call(
                "GET",
                "/v1/wait-idle",
                shapes.WaitIdle,
                params={"timeout": f"{timeout:g}"},
                timeout=timeout + 10.0,
                ok_statuses=(408,),
            )
        )

    def similar(
        self,
        id: str,
        *,
        limit: int | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        return self._about(shapes.SimilarModels, "/v1/similar", id, as_of, known_at, limit=limit)

    def suggestions(
        self,
        id: str,
        *,
        limit: int | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        return self._about(shapes.Suggestions, "/v1/suggestions", id, as_of, known_at, limit=limit)

    def quality(
        self,
        *,
        stale_days: int | None = None,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        return self.send(
            read(
                shapes.Quality,
                "/v1/quality",
                stale_days=stale_days,
                as_of=as_of,
                known_at=known_at,
            )
        )

    def graphql(
        self,
        query: str,
        variables: JSON | None = None,
        *,
        as_of: str | None = None,
        known_at: str | None = None,
    ) -> R:
        body: JSON = {"query": query, "variables": variables or {}}
        return self.send(
            Call(
                "POST",
                "/v1/graphql",
                shapes.GraphQL,
                params={"as_of": as_of, "known_at": known_at},
                json_body=body,
            )
        )
