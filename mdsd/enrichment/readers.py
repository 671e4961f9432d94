"""How the rule evaluator reads the graph: point reads for a change, bulk scans for everything.

An incremental pass touches a handful of entities, so it reads each one (cheap when cached,
one prefix scan when not). A full pass touches every anchor and every entity on their
paths; read one by one from a cold cache that is a random read per entity, so instead it
scans the few attributes the rule needs once, in index order, and answers from memory.
Both answer the same questions from one view, so the evaluator cannot tell them apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mds.wire.model import EntityType, Orientation, Rel
from mdsd import facts as F
from mdsd.enrichment.rules import Rule
from store import XID, Db

_STATUSES = (F.STATUS_RESOLVED, F.STATUS_STUB, F.STATUS_DELETED)


@dataclass(frozen=True, slots=True)
class StoredEdge:
    """A reified inferred edge as stored: its entity and the provenance it carries."""

    edge: int
    type: str | None
    target: int | None
    rule: str | None
    path: list[str] | None


class Reader(Protocol):
    def kind_status(self, e: int) -> tuple[str | None, str | None]:
        """The entity's type and status (None, None when it does not exist)."""

    def neighbors(self, e: int, rel: Rel, orientation: Orientation) -> list[int]:
        """Entities ``e`` reaches through ``rel``: targets (``out``) or sources (``in``)."""

    def xid(self, e: int) -> str | None: ...

    def valid_from(self, e: int, rel: Rel) -> datetime | None:
        """Since when ``e``'s ``rel`` edges hold (valid time; the latest start among them)."""

    def edges_from(self, source: int) -> list[StoredEdge]:
        """The edge entities whose ``edge/source`` is ``source``."""


class PointReader:
    """Reads entity by entity from a view; for the few entities a change touches."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self._type_a = db.store.attr_id(F.TYPE)
        self._status_a = db.store.attr_id(F.STATUS)
        self._xids: dict[int, str | None] = {}

    def kind_status(self, e: int) -> tuple[str | None, str | None]:
        kind = status = None
        for f in self.db.facts(e):
            if f.a == self._type_a:
                kind = f.v
            elif f.a == self._status_a:
                status = f.v
        return kind, status

    def neighbors(self, e: int, rel: Rel, orientation: Orientation) -> list[int]:
        attr = [F.rel_attr(rel)]
        if orientation == "out":
            return [t for _, t in self.db.refs_out(e, attr)]
        return [s for _, s in self.db.refs_in(e, attr)]

    def xid(self, e: int) -> str | None:
        if e not in self._xids:
            self._xids[e] = self.db.xid(e)
        return self._xids[e]

    def valid_from(self, e: int, rel: Rel) -> datetime | None:
        return self.db.valid_from(e, F.rel_attr(rel))

    def edges_from(self, source: int) -> list[StoredEdge]:
        out = []
        for _, edge in self.db.refs_in(source, [F.EDGE_SOURCE]):
            record = self.db.entity(edge)
            out.append(
                StoredEdge(
                    edge,
                    record.get(F.EDGE_TYPE),
                    record.get(F.EDGE_TARGET),
                    record.get(F.EDGE_RULE),
                    record.get(F.EDGE_PATH),
                )
            )
        return out


class ScanReader:
    """Everything one rule reads, scanned once from a view's attribute index (AEVT)."""

    def __init__(self, db: Db, rule: Rule) -> None:
        self.db = db
        # types and statuses are few values: their AVET ranges yield ids without decoding
        self._kind: dict[int, str] = {
            e: str(kind) for kind in EntityType for e in db.lookup(F.TYPE, str(kind))
        }
        self._status: dict[int, str] = {
            e: status for status in _STATUSES for e in db.lookup(F.STATUS, status)
        }
        self._xid: dict[int, Any] = dict(db.entities_with(XID.name))
        rels = {step.rel for step in rule.steps} | set(rule.implied_rels)
        self._out: dict[Rel, dict[int, list[int]]] = {}
        self._in: dict[Rel, dict[int, list[int]]] = {}
        for rel in rels:
            out, into = defaultdict(list), defaultdict(list)
            for source, target in db.entities_with(F.rel_attr(rel)):
                out[source].append(target)
                into[target].append(source)
            self._out[rel], self._in[rel] = out, into
        self._edges: dict[int, list[StoredEdge]] = defaultdict(list)
        columns = [dict(db.entities_with(a)) for a in (F.EDGE_TYPE, F.EDGE_TARGET, F.EDGE_RULE)]
        paths = dict(db.entities_with(F.EDGE_PATH))
        for edge, source in db.entities_with(F.EDGE_SOURCE):
            kind, target, rule_name = (column.get(edge) for column in columns)
            self._edges[source].append(StoredEdge(edge, kind, target, rule_name, paths.get(edge)))

    def kind_status(self, e: int) -> tuple[str | None, str | None]:
        return self._kind.get(e), self._status.get(e)

    def neighbors(self, e: int, rel: Rel, orientation: Orientation) -> list[int]:
        return (self._out if orientation == "out" else self._in)[rel].get(e, [])

    def xid(self, e: int) -> str | None:
        return self._xid.get(e)

    def valid_from(self, e: int, rel: Rel) -> datetime | None:
        """A point read: only the few edges a pass adds or changes are dated."""
        return self.db.valid_from(e, F.rel_attr(rel))

    def edges_from(self, source: int) -> list[StoredEdge]:
        return self._edges.get(source, [])

    def anchors(self, rule: Rule) -> list[int]:
        """Everything a full pass of ``rule`` evaluates: every entity of the anchor type,
        plus whatever holds a stored inferred edge of its, so stale edges are found too."""
        found = {e for e, kind in self._kind.items() if kind == rule.anchor}
        for rel in rule.implied_rels:
            found.update(self._out[rel])
        implied = {str(rel) for rel in rule.implied_rels}
        found.update(
            source
            for source, edges in self._edges.items()
            if any(edge.type in implied for edge in edges)
        )
        return sorted(found)
