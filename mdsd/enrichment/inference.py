"""The rule evaluator: which anchors a change can affect, what they imply, the ops to get there.

Inferred edges are stated twice in one transaction: a ``rel/{type}`` ref on the anchor (so
traversal stays one hop) and a reified edge entity ``edge:{type}:{source}->{target}``
carrying the rule and the supporting path (so "why is this here?" stays answerable).
Re-evaluating an anchor compares what its rule derives now with what is stored and emits
only the difference; retracting both halves when support is gone is truth maintenance,
and the log keeps what was true before.

An inferred edge holds (valid time) from when all of its support held: the latest start of
the edges along its path (contract 4). It is retracted when mds sees the support go.

Incremental evaluation rests on one observation: a path whose support changed contains an
entity the change touched (a datom's entity, or the target of a changed ref), and the part
of the path before the first such entity is unchanged. So walking each pattern backwards
from every touched entity, over the current graph, reaches every anchor whose derivation
can differ, without looking at the rest of the graph. ``Work`` counts every entity looked
at, so that claim is measurable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mds.wire.model import EntityType, Rel, flip
from mdsd import facts as F
from mdsd.enrichment.readers import Reader, StoredEdge
from mdsd.enrichment.rules import Rule
from store import Add, Op, Replace, Retract, TxReport

EDGE_ATTRS = (F.EDGE_TYPE, F.EDGE_SOURCE, F.EDGE_TARGET, F.EDGE_RULE, F.EDGE_PATH)
Path = tuple[int, ...]


def edge_xid(rel: Rel | str, source: str, target: str) -> str:
    """The external id of a reified inferred edge (deliberately not an aip id)."""
    return f"edge:{rel}:{source}->{target}"


def edge_ops(
    ref: int | str,
    rel: Rel,
    source: int | str,
    target: int | str,
    rule: str,
    path: list[str],
    valid: datetime | None = None,
) -> list[Op]:
    """The facts of the reified edge ``ref`` (its entity id, or ``edge_xid`` for a new one):
    which relationship it is, between which entities, by which rule along which path; as of
    ``valid`` (None: the transaction's time)."""
    values: dict[str, Any] = {
        F.EDGE_TYPE: str(rel),
        F.EDGE_SOURCE: source,
        F.EDGE_TARGET: target,
        F.EDGE_RULE: rule,
        F.EDGE_PATH: path,
    }
    return [Replace(ref, attr, [value], valid=valid) for attr, value in values.items()]


def new_edge_ops(rel: Rel, source: str, target: str, rule: str, path: list[str]) -> list[Op]:
    """Everything a new inferred edge writes, the reference and its reified edge (for
    building graphs whole, as the benchmarks and test fixtures do)."""
    ref = edge_xid(rel, source, target)
    return [Add(source, F.rel_attr(rel), target), *edge_ops(ref, rel, source, target, rule, path)]


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


class Evaluator:
    """Evaluates one rule against one reader (one view). It memoizes walks, so build a new
    one for each view."""

    def __init__(self, reader: Reader, rule: Rule, work: Work) -> None:
        self.reader = reader
        self.rule = rule
        self.work = work
        self._suffixes: dict[tuple[int, int], list[Path]] = {}

    def _kind(self, e: int) -> str | None:
        self.work.examined += 1
        return self.reader.kind_status(e)[0]

    def _alive(self, e: int, entity_type: EntityType) -> bool:
        """A path may pass only through existing, non-deleted entities of the right type."""
        self.work.examined += 1
        kind, status = self.reader.kind_status(e)
        return kind == entity_type and status != F.STATUS_DELETED

    def xid(self, e: int) -> str:
        return self.reader.xid(e) or ""

    # -- walking the pattern ---------------------------------------------------------------

    def anchors_of(self, changed: Iterable[int]) -> set[int]:
        """Anchors whose paths can pass through any of ``changed`` (walking backwards)."""
        rule = self.rule
        anchors: set[int] = set()
        neighbors = self.reader.neighbors
        for e in changed:
            kind = self._kind(e)
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
                        for n in neighbors(node, step.rel, flip(step.orientation))
                        if self._kind(n) == wanted
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
                for n in dict.fromkeys(self.reader.neighbors(e, step.rel, step.orientation)):
                    paths += [(e, *rest) for rest in self.paths_from(n, position + 1)]
        self._suffixes[key] = paths
        return paths

    def derive(self, anchor: int) -> dict[tuple[Rel, int], tuple[list[str], Path]]:
        """(relationship, target) -> the supporting path of each implied edge (as aip ids,
        and as the entities themselves).

        When several paths support one edge, the first in id order is kept, so the stored
        provenance does not flap between equally good explanations.
        """
        found: dict[tuple[Rel, int], tuple[list[str], Path]] = {}
        for path in self.paths_from(anchor):
            ids = [self.xid(n) for n in path]
            for implied in self.rule.implies:
                key = (implied.rel, path[implied.target])
                if key not in found or ids < found[key][0]:
                    found[key] = (ids, path)
        return found

    def support_valid(self, path: Path) -> datetime | None:
        """Since when the whole ``path`` holds: the latest valid start of its hops (None when
        no hop is dated: the transaction's time)."""
        starts = []
        for position, step in enumerate(self.rule.steps):
            source = path[position] if step.orientation == "out" else path[position + 1]
            start = self.reader.valid_from(source, step.rel)
            if start is not None:
                starts.append(start)
        return max(starts, default=None)

    # -- what is stored ------------------------------------------------------------------

    def stored(self, anchor: int) -> tuple[dict[Rel, set[int]], dict[tuple[Rel, int], StoredEdge]]:
        """The anchor's inferred edges of this rule's relationships, as stored now: the
        ``rel/*`` refs, and the edge entities by (relationship, target)."""
        rels = {str(r): r for r in self.rule.implied_rels}
        refs = {rel: set(self.reader.neighbors(anchor, rel, "out")) for rel in rels.values()}
        edges: dict[tuple[Rel, int], StoredEdge] = {}
        for edge in self.reader.edges_from(anchor):
            rel = rels.get(edge.type or "")
            if rel is not None and edge.target is not None:
                edges[(rel, edge.target)] = edge
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
        for (rel, target), (path, nodes) in desired.items():
            held = edges.get((rel, target))
            new_ref = target not in refs[rel]
            new_edge = held is None or held.rule != self.rule.name or held.path != path
            if not (new_ref or new_edge):
                continue
            valid = self.support_valid(nodes)
            if new_ref:
                ops.append(Add(anchor, F.rel_attr(rel), target, valid=valid))
            if new_edge:
                ops += self._edge_ops(held, anchor, rel, target, path, valid)
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
        self,
        held: StoredEdge | None,
        anchor: int,
        rel: Rel,
        target: int,
        path: list[str],
        valid: datetime | None,
    ) -> list[Op]:
        new = edge_xid(rel, self.xid(anchor), self.xid(target))
        ref: int | str = held.edge if held is not None else new
        return edge_ops(ref, rel, anchor, target, self.rule.name, path, valid)
