"""The rule evaluator: which anchors a change can affect, what they imply, the ops to get there.

Inferred edges are stated twice in one transaction: a ``rel/{type}`` ref on the anchor (so
traversal stays one hop) and a reified edge entity ``edge:{type}:{source}->{target}``
carrying the rule and the supporting path (so "why is this here?" stays answerable).
Re-evaluating an anchor compares what its rule derives now with what is stored and emits
only the difference; retracting both halves when support is gone is truth maintenance,
and the log keeps what was true before.

Incremental evaluation rests on one observation: a path whose support changed contains an
entity the change touched (a datom's entity, or the target of a changed ref), and the part
of the path before the first such entity is unchanged. So walking each pattern backwards
from every touched entity, over the current graph, reaches every anchor whose derivation
can differ, without looking at the rest of the graph. ``Work`` counts every entity looked
at, so that claim is measurable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mdsd import facts as F
from mdsd.model import EntityType, Orientation, Rel, flip
from mdsd.rules import Rule
from store import Add, Db, Op, Replace, Retract, TxReport

EDGE_ATTRS = (F.EDGE_TYPE, F.EDGE_SOURCE, F.EDGE_TARGET, F.EDGE_RULE, F.EDGE_PATH)
Path = tuple[int, ...]


def edge_xid(rel: Rel | str, source: str, target: str) -> str:
    """The external id of a reified inferred edge (deliberately not an aip id)."""
    return f"edge:{rel}:{source}->{target}"


def touched_entities(report: TxReport) -> set[int]:
    """Entities whose support a transaction may have changed: every datom's entity and the
    target of every ref it asserted or retracted."""
    touched = {d.e for d in report.datoms}
    touched.update(d.v for d in report.datoms if d.a.startswith(F.REL_PREFIX))
    return touched


@dataclass(slots=True)
class Work:
    """What a pass did; ``examined`` counts entity visits, the measure of its cost."""

    examined: int = 0
    anchors: int = 0
    added: int = 0
    updated: int = 0
    retracted: int = 0

    def merge(self, other: Work) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Outcome:
    ops: list[Op] = field(default_factory=list)
    #: entities whose inferred relationships changed (anchors and targets)
    changed: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored edge entity and the provenance it carries."""

    edge: int
    rule: str | None
    path: list[str] | None


class Evaluator:
    """Evaluates one rule against one view. Build a new one per view: it memoizes walks."""

    def __init__(self, db: Db, rule: Rule, work: Work) -> None:
        self.db = db
        self.rule = rule
        self.work = work
        store = db.store
        self._type_a = store.attr_id(F.TYPE)
        self._status_a = store.attr_id(F.STATUS)
        self._suffixes: dict[tuple[int, int], list[Path]] = {}
        self._xids: dict[int, str | None] = {}

    # -- entity reads ---------------------------------------------------------------------

    def _type_and_status(self, e: int) -> tuple[str | None, str | None]:
        self.work.examined += 1
        kind = status = None
        for f in self.db.facts(e):
            if f.a == self._type_a:
                kind = f.v
            elif f.a == self._status_a:
                status = f.v
        return kind, status

    def _alive(self, e: int, entity_type: EntityType) -> bool:
        """A path may pass only through existing, non-deleted entities of the right type."""
        kind, status = self._type_and_status(e)
        return kind == entity_type and status != F.STATUS_DELETED

    def _neighbors(self, e: int, rel: Rel, orientation: Orientation) -> list[int]:
        attr = [F.rel_attr(rel)]
        if orientation == "out":
            return [t for _, t in self.db.refs_out(e, attr)]
        return [s for _, s in self.db.refs_in(e, attr)]

    def xid(self, e: int) -> str | None:
        if e not in self._xids:
            self._xids[e] = self.db.xid(e)
        return self._xids[e]

    # -- walking the pattern ---------------------------------------------------------------

    def anchors_of(self, changed: Iterable[int]) -> set[int]:
        """Anchors whose paths can pass through any of ``changed`` (walking backwards)."""
        rule = self.rule
        anchors: set[int] = set()
        for e in changed:
            kind, _ = self._type_and_status(e)
            if kind is None:
                continue
            for position in range(len(rule.steps) + 1):
                if rule.type_at(position) != kind:
                    continue
                frontier = {e}
                for p in range(position, 0, -1):
                    step = rule.steps[p - 1]
                    wanted = rule.type_at(p - 1)
                    frontier = {
                        n
                        for node in frontier
                        for n in self._neighbors(node, step.rel, flip(step.orientation))
                        if self._type_and_status(n)[0] == wanted
                    }
                anchors |= frontier
        return anchors

    def paths_from(self, e: int, position: int = 0) -> list[Path]:
        """Every complete match of the pattern from ``e`` at ``position`` to its end."""
        key = (position, e)
        cached = self._suffixes.get(key)
        if cached is not None:
            return cached
        paths: list[Path] = []
        if self._alive(e, self.rule.type_at(position)):
            if position == len(self.rule.steps):
                paths = [(e,)]
            else:
                step = self.rule.steps[position]
                for n in dict.fromkeys(self._neighbors(e, step.rel, step.orientation)):
                    paths += [(e, *rest) for rest in self.paths_from(n, position + 1)]
        self._suffixes[key] = paths
        return paths

    def derive(self, anchor: int) -> dict[tuple[Rel, int], list[str]]:
        """(relationship, target) -> the supporting path (aip ids) of each implied edge.

        When several paths support one edge, the first in id order is kept, so the stored
        provenance does not flap between equally good explanations.
        """
        found: dict[tuple[Rel, int], list[str]] = {}
        for path in self.paths_from(anchor):
            ids = [self.xid(n) or "" for n in path]
            for implied in self.rule.implies:
                key = (implied.rel, path[implied.target])
                if key not in found or ids < found[key]:
                    found[key] = ids
        return found

    # -- what is stored ------------------------------------------------------------------

    def stored(self, anchor: int) -> tuple[dict[Rel, set[int]], dict[tuple[Rel, int], _Stored]]:
        """The anchor's inferred edges of this rule's relationships, as stored now: the
        ``rel/*`` refs, and the edge entities by (relationship, target)."""
        db = self.db
        refs = {
            rel: {t for _, t in db.refs_out(anchor, [F.rel_attr(rel)])}
            for rel in self.rule.implied_rels
        }
        rels = {str(r): r for r in self.rule.implied_rels}
        edges: dict[tuple[Rel, int], _Stored] = {}
        for _, edge in db.refs_in(anchor, [F.EDGE_SOURCE]):
            record = db.entity(edge)
            rel = rels.get(record.get(F.EDGE_TYPE, ""))
            target = record.get(F.EDGE_TARGET)
            if rel is not None and target is not None:
                edges[(rel, target)] = _Stored(
                    edge, record.get(F.EDGE_RULE), record.get(F.EDGE_PATH)
                )
        return refs, edges

    # -- the difference --------------------------------------------------------------------

    def reconcile(self, anchors: Iterable[int]) -> Outcome:
        """Ops making each anchor's stored inferred edges equal what the rule derives now."""
        outcome = Outcome()
        for anchor in anchors:
            self.work.anchors += 1
            self._reconcile_one(anchor, outcome)
        return outcome

    def _reconcile_one(self, anchor: int, outcome: Outcome) -> None:
        desired = self.derive(anchor)
        refs, edges = self.stored(anchor)
        ops = outcome.ops
        for (rel, target), path in desired.items():
            held = edges.get((rel, target))
            changed = False
            if target not in refs[rel]:
                ops.append(Add(anchor, F.rel_attr(rel), target))
                changed = True
            if held is None or held.rule != self.rule.name or held.path != path:
                ops += self._edge_ops(held, anchor, rel, target, path)
                changed = True
            if changed:
                if held is None:
                    self.work.added += 1
                else:
                    self.work.updated += 1
                outcome.changed.update((anchor, target))
        gone = {k for k in edges if k not in desired}
        gone |= {
            (rel, t) for rel, targets in refs.items() for t in targets if (rel, t) not in desired
        }
        for rel, target in gone:
            if target in refs[rel]:
                ops.append(Retract(anchor, F.rel_attr(rel), target))
            held = edges.get((rel, target))
            if held is not None:
                ops += [Replace(held.edge, attr, []) for attr in EDGE_ATTRS]
            self.work.retracted += 1
            outcome.changed.update((anchor, target))

    def _edge_ops(
        self, held: _Stored | None, anchor: int, rel: Rel, target: int, path: list[str]
    ) -> list[Op]:
        ref: int | str
        if held is not None:
            ref = held.edge
        else:
            ref = edge_xid(rel, self.xid(anchor) or "", self.xid(target) or "")
        values: dict[str, Any] = {
            F.EDGE_TYPE: str(rel),
            F.EDGE_SOURCE: anchor,
            F.EDGE_TARGET: target,
            F.EDGE_RULE: self.rule.name,
            F.EDGE_PATH: path,
        }
        return [Replace(ref, attr, [value]) for attr, value in values.items()]


def all_anchors(db: Db, rule: Rule) -> Iterator[int]:
    """Every entity a full pass must evaluate: all of the anchor type, plus the sources of
    stored edges (whatever they are now), so stale edges are found too."""
    seen: set[int] = set()
    for e in db.lookup(F.TYPE, str(rule.anchor)):
        seen.add(e)
        yield e
    for rel in rule.implied_rels:
        for edge in db.lookup(F.EDGE_TYPE, str(rel)):
            source = db.get(edge, F.EDGE_SOURCE)
            if source is not None and source not in seen:
                seen.add(source)
                yield source
        for source, _ in db.entities_with(F.rel_attr(rel)):
            if source not in seen:
                seen.add(source)
                yield source
