"""The root ``Query``: one entity by id (any kind, or one field per kind), search and the
graph-wide questions, each at the request's moments or its own ``asOf`` (valid time) and
``knownAt`` (system time).

The per-kind root fields are generated from ``KINDS`` so a new kind needs no new code
here. (No ``from __future__ import annotations``: the generated resolvers' annotations
must be real types when strawberry reads them.)
"""

from typing import Annotated, Any

import strawberry

from mds.wire.model import EntityType, parse_aip_id
from mdsd.api.graphql.context import GraphContext, View
from mdsd.api.graphql.entity import KINDS, Entity, node
from mdsd.api.graphql.results import (
    Basis,
    ColumnLineage,
    History,
    Impact,
    Lineage,
    LineageDirection,
    SearchHit,
    basis,
    column_lineage,
    history,
    impact,
    lineage,
    search,
)
from mdsd.reads.queries import LINEAGE_DEPTH, BadQuery, NotFound

Info = strawberry.Info[GraphContext, None]
Id = Annotated[strawberry.ID, strawberry.argument(description="An aip:// id.")]
AsOf = Annotated[
    str | None,
    strawberry.argument(
        description="Valid time to read under this field, instead of the request's `as_of`: "
        "the graph as it was then in the sources, as best known now (it reaches back before "
        "mds started). An RFC 3339 time, a date, an age (3d, 12h); tx:N reads as mds knew it "
        "at transaction N, valid at that transaction's time."
    ),
]
KnownAt = Annotated[
    str | None,
    strawberry.argument(
        description="System time to read under this field, instead of the request's "
        "`known_at`: only what mds had recorded by then (what it showed then). The same "
        "forms as asOf; combines with it."
    ),
]


def _view(info: Info, as_of: str | None, known_at: str | None) -> View:
    return info.context.view(as_of, known_at)


async def _entity(info: Info, xid: str, as_of: str | None, known_at: str | None) -> Entity:
    try:
        parse_aip_id(xid)
    except ValueError as exc:
        raise BadQuery(str(exc)) from None
    return await node(_view(info, as_of, known_at), xid)


@strawberry.type
class Roots:
    @strawberry.field(description="Any entity by id.")
    async def entity(
        self, info: Info, id: Id, as_of: AsOf = None, known_at: KnownAt = None
    ) -> Entity | None:
        return await _entity(info, id, as_of, known_at)

    @strawberry.field(description="Entities matching a query, best first (as `mds search`).")
    async def search(
        self,
        info: Info,
        query: str,
        type: EntityType | None = None,
        limit: int = 20,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> list[SearchHit]:
        return await search(_view(info, as_of, known_at), query, type, limit)

    @strawberry.field(description="The data-flow closure of an entity (as `mds lineage`).")
    async def lineage(
        self,
        info: Info,
        id: Id,
        direction: LineageDirection = LineageDirection.UPSTREAM,
        depth: int = LINEAGE_DEPTH,
        types: list[str] | None = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> Lineage:
        return await lineage(_view(info, as_of, known_at), id, direction, depth, types)

    @strawberry.field(
        description="The column lineage of a dataset's field (as `mds lineage ID --field "
        "NAME`): the fields it is computed from (upstream) or feeds (downstream), from "
        "OpenLineage's columnLineage facet. A field is not an entity, so this is a root of "
        "its own rather than an argument of `lineage`."
    )
    async def column_lineage(
        self,
        info: Info,
        id: Id,
        field: str,
        direction: LineageDirection = LineageDirection.UPSTREAM,
        depth: int = LINEAGE_DEPTH,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> ColumnLineage:
        return await column_lineage(_view(info, as_of, known_at), id, field, direction, depth)

    @strawberry.field(description="What is downstream and whom to tell (as `mds impact`).")
    async def impact(
        self, info: Info, id: Id, as_of: AsOf = None, known_at: KnownAt = None
    ) -> Impact:
        return await impact(_view(info, as_of, known_at), id)

    @strawberry.field(
        description="The transactions that changed an entity, up to the moments read, oldest "
        "first (as `mds history`): each with its system time, each change with its valid "
        "time."
    )
    async def history(
        self,
        info: Info,
        id: Id,
        limit: int = 50,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> History:
        return await history(_view(info, as_of, known_at), id, limit)

    @strawberry.field(
        description="The moments the query reads: its valid time and its system basis."
    )
    def basis(self, info: Info, as_of: AsOf = None, known_at: KnownAt = None) -> Basis:
        return basis(_view(info, as_of, known_at))


def _kind_root(kind: type[Entity]) -> Any:
    async def resolve(
        info: Info, id: Id, as_of: AsOf = None, known_at: KnownAt = None
    ) -> kind | None:  # type: ignore[valid-type]
        found = await _entity(info, id, as_of, known_at)
        if not isinstance(found, kind):
            raise NotFound(f"{id} is a {found.record.entity_type}, not a {kind.__name__}")
        return found

    return strawberry.field(resolver=resolve, description=f"The {kind.__name__} with this id.")


Query = strawberry.type(
    type(
        "Query",
        (Roots,),
        {t.name.lower(): _kind_root(KINDS[t]) for t in EntityType if t in KINDS},
    ),
    description="The lineage graph, now or as of a moment: `asOf` is valid time (the graph "
    "as it was then), `knownAt` system time (what mds had recorded by then).",
)
