"""Field-level lineage: which fields a dataset's field is computed from, and which it feeds.

A dataset written by an OpenLineage job keeps its ``columnLineage`` facet as the attribute
``column_lineage`` (``mdsd.connectors.openlineage.columns``; for a dataset of a mapped
namespace, the run that wrote it keeps it): per field, the input fields
(by dataset id and name) with their transformations, and the input fields that shape the
whole dataset (``dataset``: filters, join keys, groupings). Upstream reads that attribute.
Downstream is the reverse look-up, and it walks the graph instead of scanning the store:
the runs that read the dataset, the datasets they write, and those datasets' column lineage
naming the field. A node is one field, ``{dataset id}#{field}``; an edge points from the
derived field to the field it derives from (``derived_from``, as dataset lineage does),
with its transformations and ``scope``: ``field`` (the facet's ``fields``) or ``dataset``
(an input of the whole dataset, so of each of its fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mds.wire import JSON
from mds.wire.columns import DATASET_SCOPE, FIELD_SCOPE, FIELD_TYPE, field_id
from mds.wire.model import Rel
from mdsd import facts as F
from mdsd.reads.queries import LINEAGE_DEPTH, MAX_DEPTH, MAX_NODES, BadQuery, NotFound, entity_id
from mdsd.reads.views import describe, said
from store import Db, SchemaError

COLUMN_LINEAGE = F.attr_key("column_lineage")
#: a run's column lineage of the outputs it wrote in mapped namespaces, by dataset id
OUTPUT_COLUMN_LINEAGE = F.attr_key("output_column_lineage")
SCHEMA = F.attr_key("fields")
READS, WRITES = F.rel_attr(Rel.READS), F.rel_attr(Rel.WRITES)
#: the edge's type: the derived field points at its input, as a derived dataset does
DERIVED_FROM = str(Rel.DERIVED_FROM)

#: a field: (dataset id, field name)
Column = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Link:
    """``derived`` is computed from ``source``: one entry of a column lineage."""

    derived: Column
    source: Column
    scope: str
    transformations: list[Any]


@dataclass(slots=True)
class _Datasets:
    """The datasets a walk has met, each read once: entity, schema, column lineage."""

    db: Db
    eids: dict[str, int | None] = field(default_factory=dict)
    lineages: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, dict[str, JSON]] = field(default_factory=dict)
    consumers: dict[str, list[str]] = field(default_factory=dict)

    def eid(self, xid: str) -> int | None:
        """The dataset's entity in the view, or None when the view has none."""
        if xid not in self.eids:
            e = self.db.entid(xid)
            self.eids[xid] = e if e is not None and self.db.get(e, F.TYPE) is not None else None
        return self.eids[xid]

    def held(self, xid: str, attr: str) -> Any:
        """The dataset's ``attr``, None when it has none or no source ever stated one."""
        e = self.eid(xid)
        try:
            return self.db.get(e, attr) if e is not None else None
        except SchemaError:  # no event has carried such a facet yet
            return None

    def lineage(self, xid: str) -> dict[str, Any]:
        """Its ``column_lineage`` (``{}`` when it has none), or for a dataset another
        source describes, what the run that wrote it last said of it."""
        if xid not in self.lineages:
            held = self.held(xid, COLUMN_LINEAGE)
            self.lineages[xid] = held if isinstance(held, dict) else self.written(xid)
        return self.lineages[xid]

    def written(self, xid: str) -> dict[str, Any]:
        """The column lineage of ``xid`` its latest writing run kept (by valid time)."""
        e = self.eid(xid)
        if e is None:
            return {}
        said: list[tuple[Any, dict[str, Any]]] = []
        try:
            for _, run in self.db.refs_in(e, [WRITES]):
                kept = self.db.get(run, OUTPUT_COLUMN_LINEAGE)
                if isinstance(kept, dict) and isinstance(kept.get(xid), dict):
                    said.append((self.db.valid_from(run, OUTPUT_COLUMN_LINEAGE), kept[xid]))
        except SchemaError:  # no run has written a mapped output yet
            return {}
        return max(said, key=lambda s: (s[0] is not None, s[0] or 0))[1] if said else {}

    def schema(self, xid: str) -> dict[str, JSON]:
        """Its fields as its ``schema`` gave them, by name."""
        if xid not in self.schemas:
            held = self.held(xid, SCHEMA)
            self.schemas[xid] = {
                f["name"]: f for f in held or [] if isinstance(f, dict) and "name" in f
            }
        return self.schemas[xid]

    def fields(self, xid: str) -> list[str]:
        """The fields it is known to have: its schema's and those its lineage derives."""
        named = [*self.schema(xid), *(self.lineage(xid).get("fields") or {})]
        return list(dict.fromkeys(named))

    def upstream(self, column: Column) -> Iterator[Link]:
        """The fields ``column`` is computed from: its own inputs, then its dataset's."""
        lineage = self.lineage(column[0])
        for entry in (lineage.get("fields") or {}).get(column[1], []):
            yield _link(column, entry, FIELD_SCOPE)
        for entry in lineage.get("dataset") or []:
            yield _link(column, entry, DATASET_SCOPE)

    def downstream(self, column: Column) -> Iterator[Link]:
        """The fields computed from ``column``: whichever column lineage of the datasets
        downstream of its dataset names it."""
        for xid in self.derived(column[0]):
            lineage = self.lineage(xid)
            for name, entries in (lineage.get("fields") or {}).items():
                for entry in entries:
                    if (entry.get("dataset"), entry.get("field")) == column:
                        yield _link((xid, name), entry, FIELD_SCOPE)
            for entry in lineage.get("dataset") or []:
                if (entry.get("dataset"), entry.get("field")) == column:
                    for name in self.fields(xid):
                        yield _link((xid, name), entry, DATASET_SCOPE)

    def derived(self, xid: str) -> list[str]:
        """The datasets written by the runs that read ``xid``: the only ones whose column
        lineage can name it, found by walking the graph rather than scanning the store."""
        if xid not in self.consumers:
            e = self.eid(xid)
            runs = [run for _, run in self.db.refs_in(e, [READS])] if e is not None else []
            written = dict.fromkeys(t for r in runs for _, t in self.db.refs_out(r, [WRITES]))
            self.consumers[xid] = [x for x in map(self.db.xid, written) if x is not None]
        return self.consumers[xid]

    def cited(self, xid: str) -> list[str]:
        """Fields of ``xid`` that the datasets downstream of it name as their inputs (an
        input seldom carries a schema of its own)."""
        named: list[Any] = []
        for derived in self.derived(xid):
            lineage = self.lineage(derived)
            entries = [entry for es in (lineage.get("fields") or {}).values() for entry in es]
            entries += lineage.get("dataset") or []
            named += [entry.get("field") for entry in entries if entry.get("dataset") == xid]
        return [n for n in dict.fromkeys(named) if isinstance(n, str)]


def _link(derived: Column, entry: dict[str, Any], scope: str) -> Link:
    source = (str(entry.get("dataset")), str(entry.get("field")))
    return Link(derived, source, scope, entry.get("transformations") or [])


def field_lineage(
    db: Db, xid: str, name: str, direction: str = "upstream", depth: int = LINEAGE_DEPTH
) -> JSON:
    """The fields ``name`` of dataset ``xid`` derives from (upstream) or feeds
    (downstream), up to ``depth`` hops, with the edges walked."""
    if direction not in ("upstream", "downstream"):
        raise BadQuery(f"direction must be upstream or downstream, not {direction!r}")
    if depth < 0 or depth > MAX_DEPTH:
        raise BadQuery(f"depth must be between 0 and {MAX_DEPTH}, not {depth}")
    entity_id(db, xid)
    datasets = _Datasets(db)
    if name not in datasets.fields(xid) and name not in datasets.cited(xid):
        raise _no_field(db, datasets, xid, name)
    root: Column = (xid, name)
    reached: dict[Column, int] = {root: 0}
    links: dict[tuple[Column, Column, str], Link] = {}
    frontier, truncated = [root], False
    for level in range(1, depth + 1):
        following: list[Column] = []
        for column in frontier:
            step = datasets.upstream if direction == "upstream" else datasets.downstream
            for link in step(column):
                links.setdefault((link.derived, link.source, link.scope), link)
                other = link.source if direction == "upstream" else link.derived
                if other in reached:
                    continue
                if len(reached) >= MAX_NODES:
                    truncated = True
                    continue
                reached[other] = level
                following.append(other)
        if not following:
            break
        frontier = following
    return {
        "root": field_id(*root),
        "dataset": xid,
        "field": name,
        "direction": direction,
        "depth": depth,
        "nodes": [_node(db, datasets, column, level) for column, level in reached.items()],
        "edges": [
            {
                "source": field_id(*link.derived),
                "target": field_id(*link.source),
                "type": DERIVED_FROM,
                "inferred": False,
                "scope": link.scope,
                "transformations": link.transformations,
            }
            for link in links.values()
            if link.derived in reached and link.source in reached
        ],
        "truncated": truncated,
        "as_of": describe(db),
    }


def _node(db: Db, datasets: _Datasets, column: Column, level: int) -> JSON:
    xid, name = column
    e = datasets.eid(xid)
    described = datasets.schema(xid).get(name) or {}
    return {
        "id": field_id(xid, name),
        "entity_type": FIELD_TYPE,
        "name": name,
        "depth": level,
        "status": db.get(e, F.STATUS) if e is not None else None,
        "dataset": xid,
        "dataset_name": db.get(e, F.NAME) if e is not None else None,
        "field": name,
        "type": described.get("type"),
        "description": described.get("description"),
    }


def _no_field(db: Db, datasets: _Datasets, xid: str, name: str) -> NotFound:
    known = list(dict.fromkeys([*datasets.fields(xid), *datasets.cited(xid)]))
    if not known:
        return NotFound(
            f"no field {name!r} in {xid!r} {said(db)}: mds knows none of its fields "
            "(no schema, and no column lineage names it)"
        )
    return NotFound(f"no field {name!r} in {xid!r} {said(db)}; its fields: {', '.join(known)}")
