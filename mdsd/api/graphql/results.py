"""The answers of the graph-wide root fields: search, lineage (of entities and of a
dataset's field), impact and history.

Each reuses the question's REST implementation in ``mdsd.reads`` (``queries``, ``search``)
for what to return and turns its ids into entities of the request's view, so GraphQL
and REST never disagree about which entities a question reaches.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from mds.wire.model import EntityType
from mdsd import facts as F
from mdsd.api.graphql.context import View
from mdsd.api.graphql.entity import Entity, Team, User, node, nodes
from mdsd.reads import columns, queries


@strawberry.enum
class LineageDirection(Enum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


@strawberry.type(description="An entity reached by a walk, `depth` hops from its root.")
class Reached:
    entity: Entity
    depth: int


@strawberry.type(description="An edge walked, in its own direction.")
class LineageEdge:
    source: Entity
    target: Entity
    type: str


@strawberry.type(description="The data-flow closure of an entity (contract 1.4).")
class Lineage:
    root: Entity
    direction: LineageDirection
    depth: int
    nodes: list[Reached]
    edges: list[LineageEdge]
    truncated: bool


@strawberry.type(description="A field of a dataset reached by a column-lineage walk.")
class FieldNode:
    id: str = strawberry.field(description="`{dataset id}#{field}`.")
    field: str
    dataset_id: strawberry.ID
    dataset: Entity | None = strawberry.field(description="Null when the view has no such dataset.")
    type: str | None = strawberry.field(description="As the dataset's schema gives it.")
    description: str | None
    depth: int


@strawberry.type(description="A derived field points at a field it is computed from.")
class FieldEdge:
    source: str
    target: str
    scope: str = strawberry.field(
        description="`field`, or `dataset` for an input of the whole dataset (a filter, a "
        "join key), so of each of its fields."
    )
    transformations: JSON = strawberry.field(
        description="`[{type, subtype, description, masking}]` as the producer gave them."
    )


@strawberry.type(
    description="The column lineage of a dataset's field (as `mds lineage ID --field NAME`)."
)
class ColumnLineage:
    root: FieldNode
    direction: LineageDirection
    depth: int
    nodes: list[FieldNode]
    edges: list[FieldEdge]
    truncated: bool


@strawberry.type
class ImpactGroup:
    entity_type: EntityType
    count: int
    entities: list[Reached]


@strawberry.type(description="What is downstream of an entity, and whom to tell.")
class Impact:
    root: Entity
    total: int
    groups: list[ImpactGroup]
    owners: list[User]
    teams: list[Team]


@strawberry.enum
class ChangeOp(Enum):
    ASSERT = "assert"
    RETRACT = "retract"


@strawberry.type
class Change:
    attribute: str
    op: ChangeOp
    value: JSON | None
    valid: datetime | None = strawberry.field(
        default=None,
        description="Valid time: from when this holds in the source (an assertion) or "
        "no longer does (a retraction).",
    )


@strawberry.type(description="One transaction that changed an entity.")
class Transaction:
    tx: int
    at: datetime | None = strawberry.field(
        description="System time: when mds recorded the transaction."
    )
    cause: JSON | None
    changes: list[Change]


@strawberry.type
class History:
    entity: Entity
    transactions: list[Transaction]


@strawberry.type
class SearchHit:
    score: float
    entity: Entity
    highlights: JSON | None


@strawberry.type(
    description="The moments a view reads: its valid time, and its system basis (the "
    "transaction of what mds had recorded, and that transaction's time)."
)
class Basis:
    tx: int = strawberry.field(description="System time: the last transaction read.")
    at: datetime | None = strawberry.field(description="System time: when `tx` was recorded.")
    valid_time: datetime | None = strawberry.field(
        description="Valid time: the moment in the sources' history read; null for the latest."
    )


async def _by_id(view: View, xids: list[str]) -> dict[str, Entity]:
    """Entities of ``view`` by aip id, in one batch (ids not in the view are left out)."""
    eids = [e for e in (view.db.entid(x) for x in xids) if e is not None]
    return {n.record.xid: n for n in await nodes(view, eids, Entity)}


async def search(
    view: View, query: str, entity_type: EntityType | None, limit: int
) -> list[SearchHit]:
    if view.services is None:
        raise queries.BadQuery("search needs the daemon's search index")
    if not 1 <= limit <= 500:
        raise queries.BadQuery(f"limit must be between 1 and 500, not {limit}")
    answer = view.services.search(
        query, entity_type=entity_type.value if entity_type else None, limit=limit, db=view.db
    )
    hits: list[dict[str, Any]] = answer["results"]
    found = await _by_id(view, [h["id"] for h in hits])
    return [
        SearchHit(score=h["score"], entity=found[h["id"]], highlights=h.get("highlights"))
        for h in hits
        if h["id"] in found
    ]


async def lineage(
    view: View, xid: str, direction: LineageDirection, depth: int, types: list[str] | None
) -> Lineage:
    root, walked = view.run(queries.walk, xid, direction.value, depth, types)
    found = {n.record.eid: n for n in await nodes(view, list(walked.depth), Entity)}
    reached = [Reached(entity=n, depth=walked.depth[e]) for e, n in found.items()]
    reached.sort(key=lambda r: (r.depth, r.entity.record.sort_key))
    return Lineage(
        root=found[root],
        direction=direction,
        depth=depth,
        nodes=reached,
        edges=[
            LineageEdge(source=found[s], target=found[t], type=a[len(F.REL_PREFIX) :])
            for s, a, t in walked.edges
            if s in found and t in found
        ],
        truncated=walked.truncated,
    )


async def column_lineage(
    view: View, xid: str, field: str, direction: LineageDirection, depth: int
) -> ColumnLineage:
    answer = view.run(columns.field_lineage, xid, field, direction.value, depth)
    found = await _by_id(view, list(dict.fromkeys(n["dataset"] for n in answer["nodes"])))
    reached = [
        FieldNode(
            id=n["id"],
            field=n["field"],
            dataset_id=strawberry.ID(n["dataset"]),
            dataset=found.get(n["dataset"]),
            type=n["type"],
            description=n["description"],
            depth=n["depth"],
        )
        for n in answer["nodes"]
    ]
    return ColumnLineage(
        root=next(n for n in reached if n.id == answer["root"]),
        direction=direction,
        depth=depth,
        nodes=reached,
        edges=[
            FieldEdge(
                source=e["source"],
                target=e["target"],
                scope=e["scope"],
                transformations=e["transformations"],
            )
            for e in answer["edges"]
        ],
        truncated=answer["truncated"],
    )


async def impact(view: View, xid: str) -> Impact:
    answer = view.run(queries.impact, xid)
    notify = answer["notify"]
    ids = [xid, *(i["id"] for g in answer["groups"] for i in g["entities"])]
    ids += [o["id"] for o in notify["owners"]] + [t["id"] for t in notify["teams"]]
    found = await _by_id(view, ids)
    return Impact(
        root=found[xid],
        total=answer["total"],
        groups=[
            ImpactGroup(
                entity_type=EntityType(g["entity_type"]),
                count=g["count"],
                entities=[
                    Reached(entity=found[i["id"]], depth=i["depth"])
                    for i in g["entities"]
                    if i["id"] in found
                ],
            )
            for g in answer["groups"]
            if g["entity_type"] in EntityType._value2member_map_
        ],
        owners=[n for n in (found.get(o["id"]) for o in notify["owners"]) if isinstance(n, User)],
        teams=[n for n in (found.get(t["id"]) for t in notify["teams"]) if isinstance(n, Team)],
    )


async def history(view: View, xid: str, limit: int) -> History:
    """The entity's transactions up to the view's moment, the last ``limit`` of them."""
    if not 1 <= limit <= 10_000:
        raise queries.BadQuery(f"limit must be between 1 and 10000, not {limit}")
    entity = await node(view, xid)
    steps = view.run(queries.history, xid, limit)["transactions"]
    return History(
        entity=entity,
        transactions=[
            Transaction(
                tx=t["tx"],
                at=datetime.fromisoformat(t["at"]) if t["at"] else None,
                cause=t["cause"],
                changes=[
                    Change(
                        attribute=c["attribute"],
                        op=ChangeOp(c["op"]),
                        value=c["value"],
                        valid=datetime.fromisoformat(c["valid"]) if c.get("valid") else None,
                    )
                    for c in t["changes"]
                ],
            )
            for t in steps
        ],
    )


def basis(view: View) -> Basis:
    db = view.db
    return Basis(tx=db.basis_tx, at=db.basis_at, valid_time=db.valid_time)
