"""The questions mds answers, each read from one consistent view (``Db``).

Every function takes the view to read and returns the JSON document of docs/api.md. The
HTTP layer only parses parameters and picks the view; GraphQL reuses the same pieces.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mds.wire import JSON
from mds.wire.model import EntityType, Rel, lineage_steps
from mds.wire.moments import iso, iso_epoch
from mdsd import facts as F
from mdsd.reads.views import describe, said
from store import Datom, Db, SchemaError, Traversal

#: ref attributes that are bookkeeping, not relationships a person follows
_NOT_RELATIONSHIPS = {F.PARENT, F.MENTIONS, F.EDGE_SOURCE, F.EDGE_TARGET}
#: the relationship enrichment infers (contract 1.4); every other one is declared
_INFERRED = F.rel_attr(Rel.TESTED_IN)
MAX_NODES = 100_000
#: the deepest walk a query may ask for
MAX_DEPTH = 50
#: lineage without a depth is the whole closure (contract 1.4: "transitively"); a fixed
#: default such as 6 hops silently cut a derivation chain short
LINEAGE_DEPTH = MAX_DEPTH


#: what a person who typed a name where an id goes is told
ID_FORM = "ids look like aip://KIND/SOURCE/NATIVE-ID (aip://model/registry/ranking-model)"


class NotFound(LookupError):
    """The id does not exist in the view asked about. ``known_from``: where the entity's
    known history begins (RFC 3339), when the view's valid time is before it."""

    def __init__(self, message: str, known_from: str | None = None) -> None:
        super().__init__(message)
        self.known_from = known_from

    def __reduce__(self) -> tuple[type[NotFound], tuple[str, str | None]]:
        # a read worker's NotFound crosses a pipe as a pickle: keep ``known_from`` with it
        return (type(self), (str(self), self.known_from))


class BadQuery(ValueError):
    """Parameters a person must fix; the message says how."""


def entity_id(db: Db, xid: str) -> int:
    e = db.entid(xid)
    if e is None or db.get(e, F.TYPE) is None:
        raise absent(db, xid)
    return e


def absent(db: Db, xid: str) -> NotFound:
    """Why ``xid`` is not in ``db``: where its known history begins when the view's valid
    time is before it (contract 4: say so rather than show an empty graph)."""
    hint = "" if xid.startswith("aip://") else f"; {ID_FORM}, and search finds one by name"
    begins = None
    if db.valid_time is not None:
        e = db.store.lookup_xid(xid)  # known_from reads what the view's basis knew
        begins = db.known_from(e) if e is not None else None
    if begins is None:
        return NotFound(f"no entity {xid!r} {said(db)}{hint}")
    return NotFound(
        f"no entity {xid!r} {said(db)}: its known history begins at {iso(begins)}; "
        "ask as of then or later",
        iso(begins),
    )


#: what ``summary`` reads of an entity
_SUMMARY = (F.TYPE, F.NAME, F.STATUS)


def summary(db: Db, e: int) -> JSON:
    """id, type, name and status: how an entity appears inside another answer.

    One pass over the entity's facts for the three, not ``db.entity``: a lineage answer
    summarizes ~1,000 entities, and materializing all their attributes took most of its
    time, and three ``get``s (a pass over the facts each) half of it."""
    kind, name, status = db.values(e, _SUMMARY)
    return {"id": db.xid(e), "entity_type": kind, "name": name, "status": status}


def _rel_name(attr: str) -> str:
    return attr[len(F.REL_PREFIX) :]


def relationships(db: Db, e: int) -> list[JSON]:
    """Both directions, ``target`` always being the entity at the other end."""
    out: list[JSON] = []
    provenance = inferred_provenance(db, e)
    for attr, target in db.refs_out(e):
        if attr in _NOT_RELATIONSHIPS or not attr.startswith(F.REL_PREFIX):
            continue
        item = _relationship(db, _rel_name(attr), "out", target)
        if attr == _INFERRED:
            item["inferred"] = True
            item["provenance"] = provenance.get((e, target))
        out.append(item)
    for attr, source in db.refs_in(e):
        if attr in _NOT_RELATIONSHIPS or not attr.startswith(F.REL_PREFIX):
            continue
        item = _relationship(db, _rel_name(attr), "in", source)
        if attr == _INFERRED:
            item["inferred"] = True
            item["provenance"] = inferred_provenance(db, source).get((source, e))
        out.append(item)
    out.sort(key=lambda r: (r["direction"], r["type"], r["target_name"] or ""))
    return out


def _relationship(db: Db, rel: str, direction: str, other: int) -> JSON:
    other_summary = summary(db, other)
    return {
        "type": rel,
        "direction": direction,
        "target": other_summary["id"],
        "target_name": other_summary["name"],
        "target_type": other_summary["entity_type"],
        "target_status": other_summary["status"],
        "inferred": False,
    }


def inferred_provenance(db: Db, source: int) -> dict[tuple[int, int], JSON]:
    """(source, target) -> {"rule", "path"} for the inferred edges leaving ``source``."""
    found: dict[tuple[int, int], JSON] = {}
    for _, edge in db.refs_in(source, [F.EDGE_SOURCE]):
        record = db.entity(edge)
        target = record.get(F.EDGE_TARGET)
        if target is not None:
            found[(source, target)] = {
                "rule": record.get(F.EDGE_RULE),
                "path": record.get(F.EDGE_PATH),
                "edge": record.get("db/xid"),
            }
    return found


def show(
    db: Db,
    xid: str,
    unit_times: tuple[float | None, float | None] | None = None,
    *,
    stale_days: int = 7,
    hydration: JSON | None = None,
) -> JSON:
    """The entity page. ``hydration`` describes failing reads of its unit, if any."""
    e = entity_id(db, xid)
    entity = db.entity(e)
    owners = entity.get(F.rel_attr(Rel.OWNED_BY), [])
    last_ok, last_enriched = unit_times or (None, None)
    refreshed = last_enriched or last_ok
    stale = refreshed is None or (datetime.now(UTC).timestamp() - refreshed) > stale_days * 86_400
    return {
        "id": xid,
        "entity_type": entity.get(F.TYPE),
        "name": entity.get(F.NAME),
        "description": entity.get(F.DESCRIPTION),
        "owners": [db.xid(o) for o in owners],
        "owners_resolved": [
            {"id": db.xid(o), "name": db.get(o, F.NAME), "entity_type": db.get(o, F.TYPE)}
            for o in owners
        ],
        "owner_emails": entity.get(F.OWNER_EMAILS, []),
        "tags": sorted(entity.get(F.TAGS, []), key=lambda t: (t["tag"], t["value"])),
        "status": entity.get(F.STATUS),
        "source": entity.get(F.SOURCE),
        "native_id": entity.get(F.NATIVE_ID),
        "created_at": iso(entity.get(F.CREATED_AT)),
        "updated_at": iso(entity.get(F.UPDATED_AT)),
        "last_hydrated_at": iso_epoch(last_ok),
        "last_enriched_at": iso_epoch(last_enriched),
        "stale": stale,
        "hydration": hydration or {"failures": 0, "last_error": None, "next_attempt_at": None},
        "attributes": {
            k[len(F.ATTR_PREFIX) :]: v
            for k, v in sorted(entity.items())
            if k.startswith(F.ATTR_PREFIX)
        },
        "relationships": relationships(db, e),
        "as_of": describe(db),
    }


def neighbors(db: Db, xid: str) -> JSON:
    e = entity_id(db, xid)
    return {
        "id": xid,
        "neighbors": [
            {
                "id": r["target"],
                "entity_type": r["target_type"],
                "name": r["target_name"],
                "type": r["type"],
                "direction": r["direction"],
                "inferred": r["inferred"],
            }
            for r in relationships(db, e)
        ],
        "as_of": describe(db),
    }


# -- graph walks ----------------------------------------------------------------------------


def _steps(direction: str, types: Iterable[str] | None) -> list[tuple[str, Any]]:
    if direction not in ("upstream", "downstream"):
        raise BadQuery(f"direction must be upstream or downstream, not {direction!r}")
    steps = lineage_steps(direction)  # type: ignore[arg-type]
    if types:
        wanted = set(types)
        unknown = wanted - {str(rel) for rel in Rel}
        if unknown:
            raise BadQuery(
                f"unknown relationship type(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(map(str, Rel)))}"
            )
        steps = [s for s in steps if s[0] in wanted]
    return [(F.rel_attr(rel), orientation) for rel, orientation in steps]


def walk(
    db: Db, xid: str, direction: str, depth: int, types: Iterable[str] | None = None
) -> tuple[int, Traversal]:
    if depth < 0 or depth > MAX_DEPTH:
        raise BadQuery(f"depth must be between 0 and {MAX_DEPTH}, not {depth}")
    steps = _steps(direction, types)  # a bad query is a 400 whether or not the id exists
    e = entity_id(db, xid)
    return e, db.traverse([e], steps, depth, max_nodes=MAX_NODES)


def lineage(
    db: Db,
    xid: str,
    direction: str = "upstream",
    depth: int = LINEAGE_DEPTH,
    types: Iterable[str] | None = None,
) -> JSON:
    """The data-flow closure of ``xid`` up to ``depth`` hops, with the edges walked.

    Built from the walk: each entity it reached is read once (its summary, in the same
    ``reading`` view as the walk, so a first touch seeks one iterator) and named once."""
    view = db.reading()
    _, walked = walk(view, xid, direction, depth, types)
    nodes = []
    xids: dict[int, str | None] = {}
    for node, level in walked.depth.items():
        item = summary(view, node)
        item["depth"] = level
        nodes.append(item)
        xids[node] = item["id"]
    edges = [
        {
            "source": xids[s],
            "target": xids[t],
            "type": _rel_name(a),
            "inferred": a == _INFERRED,
        }
        for s, a, t in walked.edges
        if s in walked.depth and t in walked.depth
    ]
    return {
        "root": xid,
        "direction": direction,
        "depth": depth,
        "nodes": nodes,
        "edges": edges,
        "truncated": walked.truncated,
        "as_of": describe(db),
    }


#: Where a lifecycle stage sorts in a grouped list: what is live first (what breaks if it
#: breaks), what is ended last; an unknown stage in between.
_STAGE_ORDER: dict[str, int] = {
    "production": 0,
    "active": 0,
    "running": 1,
    "staged": 2,
    "draft": 3,
    "succeeded": 4,
    "failed": 8,
    "aborted": 8,
    "retired": 9,
    "concluded": 9,
    "archived": 9,
}
_UNKNOWN_STAGE = 5


def _optional(db: Db, e: int, attr: str) -> Any:
    """A source's attribute (``attr/...``), which the store knows only once some source
    has stated it: ``None`` before."""
    try:
        return db.get(e, attr)
    except SchemaError:
        return None


def _grouped(db: Db, walked: Traversal, root: int) -> list[JSON]:
    """The walk's entities by type, each with its lifecycle ``stage`` (an instance's
    production or retired, a test's active or concluded, a run's succeeded) and owners'
    names; live stages first within a type, then by depth and name. Each group counts
    its entities by stage."""
    groups: dict[str, list[JSON]] = defaultdict(list)
    owned_by = F.rel_attr(Rel.OWNED_BY)
    for node, level in walked.depth.items():
        if node == root:
            continue
        item = summary(db, node)
        item["depth"] = level
        stage = _optional(db, node, F.attr_key("status"))
        item["stage"] = None if stage is None else str(stage)
        item["owners"] = [db.get(o, F.NAME) or db.xid(o) for _, o in db.refs_out(node, [owned_by])]
        groups[item["entity_type"] or "Unknown"].append(item)

    def order(item: JSON) -> tuple[int, int, str]:
        stage = (item["stage"] or "").lower()
        return (_STAGE_ORDER.get(stage, _UNKNOWN_STAGE), item["depth"], item["name"] or "")

    return [
        {
            "entity_type": kind,
            "count": len(items),
            "stages": dict(Counter(i["stage"] for i in items if i["stage"]).most_common()),
            "entities": sorted(items, key=order),
        }
        for kind, items in sorted(groups.items())
    ]


def teams_of(db: Db, user: int) -> list[int]:
    """The user's teams as either side states them: the user's ``team_ids`` (its
    ``member_of`` edges) or a team's ``member_ids`` (the team's mentions).

    Both lists are optional in identity payloads (contract 1.2), so either may be the only
    one that says so; reading ``member_of`` alone left such teams out of whom to notify.
    A deleted team has nobody left to tell.
    """
    found = [t for _, t in db.refs_out(user, [F.rel_attr(Rel.MEMBER_OF)])]
    found += [m for _, m in db.refs_in(user, [F.MENTIONS]) if db.get(m, F.TYPE) == EntityType.TEAM]
    return [t for t in dict.fromkeys(found) if db.get(t, F.STATUS) != F.STATUS_DELETED]


def impact(db: Db, xid: str, depth: int = MAX_DEPTH) -> JSON:
    """What breaks downstream, and whom to tell: owners of every impacted entity (those
    identity has described; the others ``unresolved``), their teams. The whole downstream
    closure, as lineage walks it (bounded by ``MAX_NODES``)."""
    db = db.reading()
    root, walked = walk(db, xid, "downstream", depth)
    owners: dict[int, None] = {}
    for node in walked.depth:
        for _, owner in db.refs_out(node, [F.rel_attr(Rel.OWNED_BY)]):
            owners[owner] = None
    teams: dict[int, None] = {}
    for owner in owners:
        for team in teams_of(db, owner):
            teams[team] = None
    people = [summary(db, o) for o in owners]
    return {
        "root": xid,
        "total": len(walked.depth) - 1,
        "groups": _grouped(db, walked, root),
        "notify": {
            "owners": [p for p in people if p["status"] != F.STATUS_STUB],
            "teams": [summary(db, t) for t in teams],
            # owners no identity source has described (an email or a name a source gave):
            # maybe nobody's address, so listed apart, never as people known to notify
            "unresolved": [p for p in people if p["status"] == F.STATUS_STUB],
        },
        "as_of": describe(db),
    }


def dependencies(db: Db, xid: str, depth: int = 20) -> JSON:
    """Everything ``xid`` transitively depends on (its upstream closure), by type."""
    db = db.reading()
    root, walked = walk(db, xid, "upstream", depth)
    return {
        "root": xid,
        "total": len(walked.depth) - 1,
        "groups": _grouped(db, walked, root),
        "as_of": describe(db),
    }


def usage(db: Db, xid: str) -> JSON:
    """Which A/B tests use a model (or instance); which instances and models a test runs."""
    e = entity_id(db, xid)
    kind = db.get(e, F.TYPE)
    tested_in = F.rel_attr(Rel.TESTED_IN)
    if kind in (EntityType.AB_TEST, EntityType.AB_TEST_CELL):
        test = e
        if kind == EntityType.AB_TEST_CELL:
            parents = db.refs_out(e, [F.rel_attr(Rel.CELL_OF)])
            test = parents[0][1] if parents else e
        instances: dict[int, set[int]] = defaultdict(set)
        for _, instance in db.refs_in(test, [tested_in]):
            instances[instance]
        for _, cell in db.refs_in(test, [F.rel_attr(Rel.CELL_OF)]):
            for _, instance in db.refs_in(cell, [tested_in]):
                instances[instance].add(cell)
        if kind == EntityType.AB_TEST_CELL:
            instances = {i: cells for i, cells in instances.items() if e in cells}
        models: dict[int, None] = {}
        rows = []
        for instance, cells in instances.items():
            model = [m for _, m in db.refs_out(instance, [F.rel_attr(Rel.INSTANCE_OF)])]
            for m in model:
                models[m] = None
            row = summary(db, instance)
            row["model"] = summary(db, model[0]) if model else None
            row["cells"] = [summary(db, c) for c in sorted(cells)]
            rows.append(row)
        return {
            "id": xid,
            "entity_type": kind,
            "instances": rows,
            "models": [summary(db, m) for m in models],
            "as_of": describe(db),
        }
    if kind == EntityType.MODEL:
        instances_of = [i for _, i in db.refs_in(e, [F.rel_attr(Rel.INSTANCE_OF)])]
    elif kind == EntityType.MODEL_INSTANCE:
        instances_of = [e]
    else:
        raise BadQuery(
            f"usage answers for models, model instances, A/B tests and cells; {xid} is a {kind}"
        )
    tests: dict[int, JSON] = {}
    for instance in instances_of:
        for _, target in db.refs_out(instance, [tested_in]):
            target_kind = db.get(target, F.TYPE)
            test = target
            if target_kind == EntityType.AB_TEST_CELL:
                parents = db.refs_out(target, [F.rel_attr(Rel.CELL_OF)])
                if not parents:
                    continue
                test = parents[0][1]
            row = tests.setdefault(
                test,
                {
                    **summary(db, test),
                    # the test's own lifecycle (DRAFT, ACTIVE, CONCLUDED) is what a reader
                    # of "which tests use this model" wants; the record status stays too
                    "record_status": db.get(test, F.STATUS),
                    "status": db.get(test, F.attr_key("status")) or db.get(test, F.STATUS),
                    "cells": [],
                    "via": [],
                },
            )
            iid = db.xid(instance)
            if iid not in row["via"]:
                row["via"].append(iid)
            if target_kind == EntityType.AB_TEST_CELL:
                cell_summary = summary(db, target)
                if cell_summary not in row["cells"]:
                    row["cells"].append(cell_summary)
    return {"id": xid, "entity_type": kind, "ab_tests": list(tests.values()), "as_of": describe(db)}


#: Owners and teams are context, not lineage (contract 1.4): two models owned by one person
#: are "connected" through them in two hops, which says nothing of how data flows.
_PEOPLE_RELS = frozenset({Rel.OWNED_BY, Rel.MEMBER_OF})


def path(db: Db, source: str, target: str, max_depth: int = 8) -> JSON:
    """A shortest chain of relationships (either direction) from ``source`` to ``target``:
    through lineage and structure when there is one, through owners and teams only when
    nothing else connects them (``via_people`` then says so)."""
    start = entity_id(db, source)
    goal = entity_id(db, target)
    via_people = False
    for rels in ([r for r in Rel if r not in _PEOPLE_RELS], list(Rel)):
        steps = [(F.rel_attr(rel), o) for rel in rels for o in ("out", "in")]
        walked = db.traverse([start], steps, max_depth, max_nodes=MAX_NODES)  # type: ignore[arg-type]
        if goal in walked.depth:
            break
        via_people = True
    else:
        raise NotFound(f"no path from {source} to {target} within {max_depth} hops")
    hops: list[tuple[int, str, str, int]] = []
    node = goal
    while node != start:
        previous, attr, orientation = walked.parent[node]
        hops.append((previous, attr, orientation, node))
        node = previous
    hops.reverse()
    nodes = [summary(db, start)]
    edges = []
    for previous, attr, way, reached in hops:
        ends = (db.xid(previous), db.xid(reached))
        source_id, target_id = ends if way == "out" else ends[::-1]
        edges.append({"source": source_id, "target": target_id, "type": _rel_name(attr)})
        nodes.append(summary(db, reached))
    return {
        "from": source,
        "to": target,
        "path": nodes,
        "edges": edges,
        "via_people": via_people,
        "as_of": describe(db),
    }


# -- history --------------------------------------------------------------------------------


def _change(db: Db, datom: Datom) -> JSON:
    """One datom of a history step, with its valid time; a reference also names its target
    (as of the view), so a reader shows "Alice Andersen" rather than an id it may never
    have seen."""
    op = "assert" if datom.added else "retract"
    change: JSON = {"attribute": datom.a, "op": op}
    if db.store.attribute(datom.a).is_ref:
        change |= {"value": db.xid(datom.v), "target_name": db.get(datom.v, F.NAME)}
    else:
        change["value"] = iso(datom.v) if hasattr(datom.v, "isoformat") else datom.v
    return change | {"valid": iso(datom.valid)}


def history(db: Db, xid: str, limit: int | None = None) -> JSON:
    """The transactions that touched ``xid``, oldest first, each change with its valid time
    beside the transaction's own (system) time. Up to the view's basis: the history known
    then (Datomic's ``history`` of an ``as-of`` database); at a valid time, only the changes
    valid by then."""
    e = entity_id(db, xid)
    valid_by = db.valid_time
    transactions = []
    for step in db.store.history(e):
        if step.tx > db.basis_tx:
            break
        datoms = [d for d in step.datoms if valid_by is None or d.valid <= valid_by]
        if datoms:
            transactions.append(
                {
                    "tx": step.tx,
                    "at": iso(step.at),
                    "cause": step.meta,
                    "changes": [_change(db, d) for d in datoms],
                }
            )
    if limit is not None:
        transactions = transactions[-limit:]
    return {"id": xid, "transactions": transactions, "as_of": describe(db)}


def _said(db: Db, e: int, tx: int) -> str | None:
    """An entity as a person reads it in transaction ``tx``'s list of changes: its name,
    or for an inferred edge (reified, with an id made of internal keys) what it joins, as
    the transaction left it (or, if it retracted the edge, as it found it)."""
    name = db.get(e, F.NAME)
    if name is not None:
        return str(name)
    for view in (db.as_of(tx), db.as_of(tx - 1)):
        kind = view.get(e, F.EDGE_TYPE)
        if kind is not None:
            ends = (view.get(e, F.EDGE_SOURCE), view.get(e, F.EDGE_TARGET))
            source, target = (view.get(x, F.NAME) or view.xid(x) if x else "?" for x in ends)
            return f"{source} {kind} {target}"
    return None


def graph_history(db: Db, limit: int = 50, before_tx: int | None = None) -> JSON:
    """The most recent transactions of the whole graph up to the view's basis (system
    time), newest first, each with the span of valid times its facts hold from."""
    end = db.basis_tx + 1 if before_tx is None else min(before_tx, db.basis_tx + 1)
    start = max(1, end - limit)
    reports = list(db.store.log(start, end))
    reports.reverse()
    return {
        "transactions": [
            {
                "tx": r.tx,
                "at": iso(r.at),
                "cause": r.meta,
                "entities": sorted({x for x in (db.xid(e) for e in r.entities) if x}),
                "names": {
                    x: n for e in r.entities if (x := db.xid(e)) and (n := _said(db, e, r.tx))
                },
                "datoms": len(r.datoms),
                # the span of valid times it stated (a late source's import reaches back)
                "earliest_valid": iso(min((d.valid for d in r.datoms), default=None)),
                "latest_valid": iso(max((d.valid for d in r.datoms), default=None)),
            }
            for r in reports
        ],
        "as_of": describe(db),
    }
