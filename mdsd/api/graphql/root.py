"""The root ``Query``: one entity by id (any kind, or one field per kind), search and the
graph-wide questions, each at the request's moment or its own ``asOf``.

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
    History,
    Impact,
    Lineage,
    LineageDirection,
    SearchHit,
    basis,
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
        description="The moment to read under this field, instead of the request's "
        "`as_of`: an RFC 3339 time, a date, an age (3d, 12h) or tx:N."
    ),
]


def _view(info: Info, as_of: str | None) -> View:
    return info.context.view(as_of)


async def _entity(info: Info, xid: str, as_of: str | None) -> Entity:
    try:
        parse_aip_id(xid)
    except ValueError as exc:
        raise BadQuery(str(exc)) from None
    return await node(_view(info, as_of), xid)


@strawberry.type
class Roots:
    @strawberry.field(description="Any entity by id.")
    async def entity(self, info: Info, id: Id, as_of: AsOf = None) -> Entity | None:
        return await _entity(info, id, as_of)

    @strawberry.field(description="Entities matching a query, best first (as `mds search`).")
    async def search(
        self,
        info: Info,
        query: str,
        type: EntityType | None = None,
        limit: int = 20,
        as_of: AsOf = None,
    ) -> list[SearchHit]:
        return await search(_view(info, as_of), query, type, limit)

    @strawberry.field(description="The data-flow closure of an entity (as `mds lineage`).")
    async def lineage(
        self,
        info: Info,
        id: Id,
        direction: LineageDirection = LineageDirection.UPSTREAM,
        depth: int = LINEAGE_DEPTH,
        types: list[str] | None = None,
        as_of: AsOf = None,
    ) -> Lineage:
        return await lineage(_view(info, as_of), id, direction, depth, types)

    @strawberry.field(description="What is downstream and whom to tell (as `mds impact`).")
    async def impact(self, info: Info, id: Id, as_of: AsOf = None) -> Impact:
        return await impact(_view(info, as_of), id)

    @strawberry.field(
        description="The transactions that changed an entity, up to the moment read, oldest "
        "first (as `mds history`)."
    )
    async def history(self, info: Info, id: Id, limit: int = 50, as_of: AsOf = None) -> History:
        return await history(_view(info, as_of), id, limit)

    @strawberry.field(description="The moment the query reads (its basis transaction).")
    def basis(self, info: Info, as_of: AsOf = None) -> Basis:
        return basis(_view(info, as_of))


def _kind_root(kind: type[Entity]) -> Any:
    async def resolve(info: Info, id: Id, as_of: AsOf = None) -> kind | None:  # type: ignore[valid-type]
        found = await _entity(info, id, as_of)
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
    description="The lineage graph, now or as of a moment.",
)
