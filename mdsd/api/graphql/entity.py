"""The ``Entity`` interface every kind implements, the shapes fields share, and the
identity kinds (``User``, ``Team``) the interface's ``owners`` names.

The common fields live here once; a kind (``mdsd.api.graphql.kinds``) adds only its own
scalars and typed relationships, each declared as paths of hops over the fact schema.
Objects are built from a loaded ``Record`` and carry their ``View``, so everything below
a root field reads the moment that root asked for.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from mds.wire.model import EntityType, Rel
from mdsd import facts as F
from mdsd.api.graphql.context import MENTIONED, Hop, Path, View, into, out, via
from mdsd.api.graphql.limits import MAX_PAGE, PAGE
from mdsd.api.graphql.records import Record
from mdsd.reads.queries import BadQuery, inferred_provenance
from store import Db

strawberry.enum(EntityType, description="The kind of an entity (contract 1.3).")

_TESTED_IN = F.rel_attr(Rel.TESTED_IN)
_NOT_RELATIONSHIPS = {F.PARENT, F.MENTIONS}
OWNERS: tuple[Path, ...] = ((out(Rel.OWNED_BY),),)
MEMBERS: tuple[Path, ...] = ((into(Rel.MEMBER_OF),), (MENTIONED,))
#: a user's teams, as either side states them (the user's team_ids, a team's member_ids)
TEAMS: tuple[Path, ...] = ((out(Rel.MEMBER_OF),), (Hop(MENTIONED.attr, inward=True),))
OWNED_BY_TEAM = tuple((*p, into(Rel.OWNED_BY)) for p in MEMBERS)


@strawberry.enum(description="Whether mds holds the entity's source description.")
class EntityStatus(Enum):
    RESOLVED = F.STATUS_RESOLVED
    STUB = F.STATUS_STUB
    DELETED = F.STATUS_DELETED


@strawberry.enum(description="Which way a relationship's edge points, seen from the entity.")
class RelationshipDirection(Enum):
    OUT = "out"
    IN = "in"


@strawberry.type(description="A source label: `labels` as `{tag, value}`.")
class Tag:
    tag: str
    value: str


@strawberry.type(description="Why an inferred relationship holds: the rule and its path.")
class Provenance:
    rule: str | None
    path: list[strawberry.ID]
    edge: strawberry.ID | None = strawberry.field(description="The reified edge's id.")


@strawberry.type(description="An edge from or to an entity; `target` is the other end.")
class Relationship:
    type: str
    direction: RelationshipDirection
    inferred: bool
    target: Entity
    provenance: Provenance | None = None


N = TypeVar("N")


@strawberry.type(description="Where a page ends.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type(description="One page of a relationship that can grow without bound.")
class Connection(Generic[N]):
    total_count: int
    page_info: PageInfo
    edges: list[Edge[N]]
    nodes: list[N] = strawberry.field(description="The page's nodes, without cursors.")


First = Annotated[
    int, strawberry.argument(description=f"Page size, at most {MAX_PAGE} (default {PAGE}).")
]
After = Annotated[
    str | None, strawberry.argument(description="The `endCursor` of the previous page.")
]


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("o:"):
            return int(text[2:])
    except ValueError:
        pass
    raise BadQuery(f"bad cursor {cursor!r}: pass an endCursor this API returned")


def paginate(items: Sequence[N], first: int, after: str | None) -> Connection[N]:
    if not 0 <= first <= MAX_PAGE:
        raise BadQuery(f"first must be between 0 and {MAX_PAGE}, not {first}")
    start = _offset(after) + 1 if after else 0
    page = items[start : start + first]
    edges = [Edge(cursor=_cursor(start + i), node=n) for i, n in enumerate(page)]
    return Connection(
        total_count=len(items),
        page_info=PageInfo(
            has_next_page=start + len(page) < len(items),
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
        nodes=list(page),
    )


E = TypeVar("E", bound="Entity")

#: entity_type -> its GraphQL type, filled by ``register``
KINDS: dict[EntityType, type[Entity]] = {}


def register(entity_type: EntityType) -> Callable[[type[E]], type[E]]:
    """Class decorator: ``entity_type``'s records are built as this type."""

    def add(cls: type[E]) -> type[E]:
        KINDS[entity_type] = cls
        return cls

    return add


def build(record: Record, view: View) -> Entity | None:
    kind = KINDS.get(record.entity_type) if record.entity_type else None
    return kind(record=record, view=view) if kind else None


async def nodes(view: View, eids: Sequence[int], kind: type[E]) -> list[E]:
    """The entities ``eids`` that are a ``kind``, by name: built from batched records."""
    built = (build(r, view) for r in await view.load(eids))
    found = [n for n in built if isinstance(n, kind)]
    found.sort(key=lambda n: n.record.sort_key)
    return found


async def node(view: View, xid: str) -> Entity:
    """The entity ``xid`` in ``view``; ``NotFound`` says which moment it is missing from."""
    found = build(await view.record_of(xid), view)
    if found is None:
        raise BadQuery(f"{xid} is not an entity")
    return found


@strawberry.interface(description="Anything in the graph: what every kind of entity has.")
class Entity:
    record: strawberry.Private[Record]
    view: strawberry.Private[View]

    # -- helpers for kinds ----------------------------------------------------------------

    async def related(self, paths: Sequence[Path], kind: type[E]) -> list[E]:
        return await nodes(self.view, await self.view.reach(self.record.eid, paths), kind)

    async def one(self, paths: Sequence[Path], kind: type[E]) -> E | None:
        found = await self.related(paths, kind)
        return found[0] if found else None

    async def page(
        self, paths: Sequence[Path], kind: type[E], first: int, after: str | None
    ) -> Connection[E]:
        return paginate(await self.related(paths, kind), first, after)

    # -- the fields -------------------------------------------------------------------------

    @strawberry.field(description="The global id: aip://{kind}/{source}/{native-id}.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.xid)

    @strawberry.field
    def entity_type(self) -> EntityType:
        return EntityType(self.record.get(F.TYPE))  # built only for known types

    @strawberry.field(description="The source's name; the native id for a stub.")
    def name(self) -> str:
        return self.record.name or self.record.xid

    @strawberry.field
    def description(self) -> str | None:
        return self.record.get(F.DESCRIPTION)

    @strawberry.field
    def status(self) -> EntityStatus:
        return EntityStatus(self.record.get(F.STATUS) or F.STATUS_STUB)

    @strawberry.field
    def tags(self) -> list[Tag]:
        found = self.record.get(F.TAGS) or []
        return [Tag(tag=t["tag"], value=t["value"]) for t in sorted(found, key=_tag_key)]

    @strawberry.field(description="The source's created_at.")
    def created_at(self) -> datetime | None:
        return self.record.get(F.CREATED_AT)

    @strawberry.field(description="The source's updated_at.")
    def updated_at(self) -> datetime | None:
        return self.record.get(F.UPDATED_AT)

    @strawberry.field(description="The source payload's scalar fields, by name.")
    def attributes(self) -> JSON:
        prefix = len(F.ATTR_PREFIX)
        attrs = self.record.attrs
        return JSON(
            {k[prefix:]: v for k, v in sorted(attrs.items()) if k.startswith(F.ATTR_PREFIX)}
        )

    @strawberry.field(description="The users who own it (owner_emails, resolved).")
    async def owners(self) -> list[User]:
        return await self.related(OWNERS, User)

    @strawberry.field(
        description="When its hydration unit was last read from its source (now, not as of)."
    )
    async def last_hydrated_at(self) -> datetime | None:
        times = await self.view.unit_times.load(self.record.xid)
        return _instant(times[0] if times else None)

    @strawberry.field(description="When enrichment last passed over it (now, not as of).")
    async def last_enriched_at(self) -> datetime | None:
        times = await self.view.unit_times.load(self.record.xid)
        return _instant(times[1] if times else None)

    @strawberry.field(description="Every relationship, both directions, as `mds show` lists them.")
    async def relationships(
        self, type: str | None = None, direction: RelationshipDirection | None = None
    ) -> list[Relationship]:
        ends: list[tuple[str, RelationshipDirection, int]] = []
        if direction in (None, RelationshipDirection.OUT):
            ends += [
                (attr, RelationshipDirection.OUT, t)
                for attr, targets in self.record.attrs.items()
                if _is_relationship(attr, type)
                for t in (targets if isinstance(targets, list) else [targets])
            ]
        if direction in (None, RelationshipDirection.IN):
            incoming = await self.view.incoming.load(self.record.eid)
            ends += [
                (attr, RelationshipDirection.IN, s)
                for attr, sources in incoming.items()
                if _is_relationship(attr, type)
                for s in sources
            ]
        others = {n.record.eid: n for n in await nodes(self.view, [e for *_, e in ends], Entity)}
        found = [
            _relationship(self.view.db, self.record.eid, attr, way, others[e])
            for attr, way, e in ends
            if e in others
        ]
        found.sort(key=lambda r: (r.direction.value, r.type, r.target.record.sort_key))
        return found


def _tag_key(tag: dict[str, str]) -> tuple[str, str]:
    return (tag.get("tag", ""), tag.get("value", ""))


def _instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _is_relationship(attr: str, wanted: str | None) -> bool:
    if not attr.startswith(F.REL_PREFIX) or attr in _NOT_RELATIONSHIPS:
        return False
    return wanted is None or attr == F.rel_attr(wanted)


def _relationship(
    db: Db, eid: int, attr: str, way: RelationshipDirection, other: Entity
) -> Relationship:
    inferred = attr == _TESTED_IN
    provenance = None
    if inferred:
        source, target = (
            (eid, other.record.eid)
            if way is RelationshipDirection.OUT
            else (
                other.record.eid,
                eid,
            )
        )
        found = inferred_provenance(db, source).get((source, target))
        if found:
            provenance = Provenance(
                rule=found.get("rule"),
                path=[strawberry.ID(p) for p in found.get("path") or []],
                edge=found.get("edge"),
            )
    return Relationship(
        type=attr[len(F.REL_PREFIX) :],
        direction=way,
        inferred=inferred,
        target=other,
        provenance=provenance,
    )


# -- the identity kinds ---------------------------------------------------------------------


@register(EntityType.USER)
@strawberry.type(description="A person of the Identity Platform.")
class User(Entity):
    @strawberry.field
    def email(self) -> str | None:
        return self.record.text("email")

    @strawberry.field
    async def teams(self) -> list[Team]:
        return await self.related(TEAMS, Team)

    @strawberry.field(description="What they own.")
    async def owned(self, first: First = PAGE, after: After = None) -> Connection[Entity]:
        return await self.page(via(into(Rel.OWNED_BY)), Entity, first, after)


@register(EntityType.TEAM)
@strawberry.type(description="A team of the Identity Platform.")
class Team(Entity):
    @strawberry.field
    async def members(self, first: First = PAGE, after: After = None) -> Connection[User]:
        return await self.page(MEMBERS, User, first, after)

    @strawberry.field(description="What its members own.")
    async def owned(self, first: First = PAGE, after: After = None) -> Connection[Entity]:
        return await self.page(OWNED_BY_TEAM, Entity, first, after)
