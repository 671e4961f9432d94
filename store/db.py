"""Db: an immutable view of the store at one point of each time axis.

A view has a system-time basis (a transaction: what mds had recorded by then) and a valid
time (when it was true in the world; the latest by default). Every read filters by both,
so a view answers the same however much is written after it was taken. ``as_of``,
``valid_at`` and ``since`` derive new views without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

from store import codec
from store.codec import VALID_LATEST
from store.intervals import (
    CURRENT,
    FIRST,
    SETTLED,
    VALID_SETTLED,
    Fact,
    Neighbours,
    RawFact,
    rectangles,
    visible,
)
from store.schema import XID, SchemaError
from store.source import EntityReads, FactSource
from store.tx import Datom

Orientation = Literal["out", "in"]


class Traversal:
    """The result of a bounded BFS: node depths, the edges walked and how each node was
    reached.

    The walk itself records only depths and, per expanded node, the neighbours it saw;
    ``edges`` and ``parent`` are derived from those on first access, because most callers
    (impact, dependencies) need only the depths and a walk is a hot path.
    """

    __slots__ = ("_both_ways", "_edges", "_parent", "_seen", "depth", "truncated")

    def __init__(self) -> None:
        #: node -> hops from the nearest start (starts are 0)
        self.depth: dict[int, int] = {}
        #: True when ``max_nodes`` stopped the walk before it ran out of nodes or depth
        self.truncated = False
        #: (node, attribute, orientation, visible neighbours) per expansion, in walk order
        self._seen: list[tuple[int, str, Orientation, Sequence[int]]] = []
        #: whether some attribute was followed both ways (then edges meet twice)
        self._both_ways = False
        self._edges: list[tuple[int, str, int]] | None = None
        self._parent: dict[int, tuple[int, str, Orientation]] | None = None

    @property
    def edges(self) -> list[tuple[int, str, int]]:
        """(source, attribute, target) in the edge's own direction, each edge once."""
        if self._edges is None:
            edges: list[tuple[int, str, int]] = []
            for node, name, orientation, others in self._seen:
                if orientation == "out":
                    edges.extend((node, name, other) for other in others)
                else:
                    edges.extend((other, name, node) for other in others)
            self._edges = list(dict.fromkeys(edges)) if self._both_ways else edges
        return self._edges

    @property
    def parent(self) -> dict[int, tuple[int, str, Orientation]]:
        """node -> (previous node, attribute, orientation followed), for paths.

        The walk reached each node first from the earliest expansion, one level up, that
        saw it; replaying the expansions in order finds that same one.
        """
        if self._parent is None:
            parent: dict[int, tuple[int, str, Orientation]] = {}
            depth = self.depth
            for node, name, orientation, others in self._seen:
                level = depth[node] + 1
                for other in others:
                    if other not in parent and depth.get(other) == level:
                        parent[other] = (node, name, orientation)
            self._parent = parent
        return self._parent

    def path_to(self, node: int) -> list[tuple[int, str, Orientation]]:
        """Steps from a start node to ``node``: [(previous, attribute, orientation), ...]."""
        parent = self.parent
        steps = []
        while node in parent:
            previous, attr, orientation = parent[node]
            steps.append((previous, attr, orientation))
            node = previous
        steps.reverse()
        return steps


class Db:
    """A view: what was true at valid time ``valid`` as recorded by ``basis_tx``, counting
    only rectangles that transactions after ``since_tx`` opened. Cheap to make (no I/O) and
    safe to share between threads."""

    def __init__(
        self, store: FactSource, basis_tx: int, since_tx: int = 0, valid: int = VALID_LATEST
    ) -> None:
        self.store = store
        self.basis_tx = basis_tx
        self.since_tx = since_tx
        #: the valid time, microseconds since the epoch; ``VALID_LATEST`` for the latest
        self.valid = valid
        #: where entity and reference reads go: the store, or one answer's ``Reads``
        self._reads: EntityReads = store

    def __repr__(self) -> str:
        valid = "latest" if self.valid == VALID_LATEST else self.valid_time
        return f"Db(basis_tx={self.basis_tx}, since_tx={self.since_tx}, valid={valid})"

    def _derive(self, basis_tx: int, since_tx: int, valid: int) -> Db:
        """A view like this one at other points (subclasses keep their own kind)."""
        return Db(self.store, basis_tx, since_tx, valid)

    # -- deriving views -----------------------------------------------------------------------

    def as_of(self, point: int | datetime) -> Db:
        """System time: the database as recorded right after transaction ``point`` (or by
        that instant)."""
        tx = self.store.tx_at(point) if isinstance(point, datetime) else point
        return self._derive(min(max(tx, 0), self.basis_tx), self.since_tx, self.valid)

    def valid_at(self, moment: datetime | int | None) -> Db:
        """Valid time: the database as it was true at ``moment`` (a datetime or microseconds
        since the epoch), as known at this view's basis; ``None`` is the latest."""
        if moment is None:
            valid = VALID_LATEST
        elif isinstance(moment, datetime):
            valid = codec.micros(moment)
        else:
            valid = moment
        return self._derive(self.basis_tx, self.since_tx, min(valid, VALID_LATEST))

    def since(self, tx: int) -> Db:
        """Only what transactions after ``tx`` (up to this view's basis) made true."""
        return self._derive(self.basis_tx, max(tx, 0), self.valid)

    def reading(self) -> Db:
        """This view for one answer that reads many entities: their reads share one RocksDB
        iterator instead of making one each (``store.reading``). Drop it with the answer
        (views derived from it read as usual)."""
        view = self._derive(self.basis_tx, self.since_tx, self.valid)
        view._reads = self.store.reading()
        return view

    @property
    def basis_at(self) -> datetime | None:
        return self.store.instant_of(self.basis_tx) if self.basis_tx else None

    @property
    def valid_time(self) -> datetime | None:
        """The view's valid time; ``None`` when it is the latest."""
        return None if self.valid == VALID_LATEST else codec.from_micros(self.valid)

    @property
    def is_current(self) -> bool:
        """Whether this is the store's present: its last transaction, the latest valid time
        and everything since the start."""
        return (
            self.basis_tx >= self.store.last_tx
            and self.valid == VALID_LATEST
            and self.since_tx == 0
        )

    # -- identity -----------------------------------------------------------------------------

    def entid(self, xid: str) -> int | None:
        """Internal id of ``xid`` if the entity exists in this view."""
        e = self.store.lookup_xid(xid)
        if e is None or not self.exists(e):
            return None
        return e

    def xid(self, e: int) -> str | None:
        """The entity's external id; ids never change, so this ignores the basis."""
        return self.store.xid_of(e)

    def exists(self, e: int) -> bool:
        """Whether the entity exists in this view: recorded by its basis, and created (in
        the world) by its valid time."""
        if self.valid == VALID_LATEST:  # an xid is never retracted: the cheap check does
            return 0 < self.store.created_tx(e) <= self.basis_tx
        basis, valid = self.basis_tx, self.valid
        return any(
            s <= basis < end and vs <= valid < ve
            for s, end, vs, ve in self._reads.entity_of(e).lives
        )

    def known_from(self, e: int) -> datetime | None:
        """The earliest valid time of anything this view's basis knew of ``e`` (where its
        known history begins); ``None`` if nothing."""
        basis = self.basis_tx
        starts = [f[4] for f in self._reads.entity_of(e).facts if f[2] <= basis < f[3]]
        return codec.from_micros(min(starts)) if starts else None

    def valid_from(self, e: int, attr: str) -> datetime | None:
        """When the value(s) of ``attr`` visible in this view became valid (the latest
        start among them); ``None`` when none is visible."""
        a = self.store.info(attr).id
        starts = [f[4] for f in self._visible(e) if f[0] == a]
        return codec.from_micros(max(starts)) if starts else None

    # -- entity reads -------------------------------------------------------------------------

    def facts(self, e: int) -> list[Fact]:
        """The entity's visible facts, EAVT order."""
        return [Fact._make(f) for f in self._visible(e)]

    def _visible(self, e: int) -> list[RawFact]:
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        return [
            f
            for f in self._reads.entity_of(e).facts
            if since < f[2] <= basis < f[3] and f[4] <= valid < f[5]
        ]

    def entity(self, e: int) -> dict[str, Any]:
        """Attribute name -> value (a list for cardinality many); empty if nothing visible."""
        out: dict[str, Any] = {}
        info_by_id = self.store.info_by_id
        for a, v, *_ in self._visible(e):
            info = info_by_id(a)
            if info.many:
                out.setdefault(info.name, []).append(v)
            else:
                out[info.name] = v
        return out

    def get(self, e: int, attr: str) -> Any:
        """One attribute: its value, a list for cardinality many, ``None`` when absent."""
        info = self.store.info(attr)
        a, basis, since, valid = info.id, self.basis_tx, self.since_tx, self.valid
        values = [
            v
            for _, v, start, end, valid_start, valid_end in self._reads.entity_of(e).facts_of(a)
            if since < start <= basis < end and valid_start <= valid < valid_end
        ]
        if info.many:
            return values
        return values[0] if values else None

    def values(self, e: int, attrs: Sequence[str]) -> list[Any]:
        """``get`` of several attributes with one read of the entity (a summary asks three
        of each of a thousand entities), decoding only those attributes."""
        entity = self._reads.entity_of(e)
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        out: list[Any] = []
        for attr in attrs:
            info = self.store.info(attr)
            values = [
                v
                for _, v, start, end, valid_start, valid_end in entity.facts_of(info.id)
                if since < start <= basis < end and valid_start <= valid < valid_end
            ]
            out.append(values if info.many else (values[0] if values else None))
        return out

    def refs_out(self, e: int, attrs: Iterable[str] | None = None) -> list[tuple[str, int]]:
        """(attribute, target) of the entity's visible references."""
        return self._refs(self._reads.entity_of(e).refs, attrs)

    def refs_in(self, e: int, attrs: Iterable[str] | None = None) -> list[tuple[str, int]]:
        """(attribute, source) of the visible references pointing at ``e`` (VAET)."""
        return self._refs(self._reads.links_to(e), attrs)

    def _refs(
        self, by_attr: dict[int, Neighbours], attrs: Iterable[str] | None
    ) -> list[tuple[str, int]]:
        store = self.store
        wanted = None if attrs is None else {store.attr_id(a) for a in attrs}
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        out: list[tuple[str, int]] = []
        for a, neighbours in by_attr.items():
            if wanted is None or a in wanted:
                name = store.attr_name(a)
                out.extend((name, other) for other in visible(neighbours, basis, since, valid))
        return out

    def lookup(self, attr: str, value: Any) -> list[int]:
        """Entities whose ``attr`` currently equals ``value`` (AVET); a ref takes an id or xid."""
        info = self.store.info(attr)
        if info.avet is None:
            raise SchemaError(f"{attr} is not indexed; declare it with indexed=True")
        if info.is_ref:
            target = self.store.lookup_xid(value) if isinstance(value, str) else value
            if target is None:
                return []
            return sorted({src for _, src in self.refs_in(target, [attr])})
        prefix = info.avet + info.encode(value)
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        return sorted(
            {
                int.from_bytes(group, "big")
                for group, start, end, vs, ve in rectangles(
                    self.store.scan_items(prefix), len(prefix)
                )
                if since < start <= basis < end and vs <= valid < ve
            }
        )

    def entities_with(self, attr: str) -> Iterator[tuple[int, Any]]:
        """(entity, value) for every visible datom of ``attr``, in entity order (AEVT)."""
        prefix = self.store.info(attr).aevt
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        items = self.store.scan_items(prefix)
        for group, start, end, vs, ve in rectangles(items, len(prefix)):
            if since < start <= basis < end and vs <= valid < ve:
                yield int.from_bytes(group[:8], "big"), codec.decode_value(group[8:])

    def datoms(self, e: int) -> list[Datom]:
        """The entity's visible datoms, EAVT order."""
        store = self.store
        return [
            Datom(e, store.attr_name(a), v, start, True, codec.from_micros(valid_start))
            for a, v, start, _, valid_start, _ in self._visible(e)
        ]

    # -- graph reads ----------------------------------------------------------------------------

    def pull(self, e: int, *, depth: int = 0, reverse: bool = True) -> dict[str, Any]:
        """The entity with its attributes; refs nested ``depth`` levels; incoming refs under
        ``_in`` as {attribute: [source xids]} when ``reverse``."""
        return self._pull(e, depth, reverse, set())

    def _pull(self, e: int, depth: int, reverse: bool, seen: set[int]) -> dict[str, Any]:
        seen.add(e)
        store = self.store
        info_by_id = store.info_by_id
        xid_of = store.xid_of
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        out: dict[str, Any] = {"db/id": e}
        for a, v, start, end, valid_start, valid_end in self._reads.entity_of(e).facts:
            if not (since < start <= basis < end and valid_start <= valid < valid_end):
                continue
            info = info_by_id(a)
            if info.is_ref:
                if depth > 0 and v not in seen:
                    v = self._pull(v, depth - 1, False, seen)
                else:
                    v = {"db/id": v, XID.name: xid_of(v)}
            if info.many:
                out.setdefault(info.name, []).append(v)
            else:
                out[info.name] = v
        if reverse:
            incoming: dict[str, list[str | None]] = {}
            for a, sources in self._reads.links_to(e).items():
                found = visible(sources, basis, since, valid)
                if found:
                    incoming[store.attr_name(a)] = [xid_of(s) for s in found]
            out["_in"] = incoming
        return out

    def traverse(
        self,
        starts: Iterable[int],
        steps: Sequence[tuple[str, Orientation]],
        max_depth: int,
        *,
        max_nodes: int | None = None,
    ) -> Traversal:
        """Breadth-first walk following ``steps`` (ref attribute, out|in) up to ``max_depth``
        hops; with ``max_nodes``, stops after the first level that reaches that many nodes.

        This is the store's hottest read, hence the inlined cache lookups and the inlined
        fast path of ``intervals.visible`` (an (entity, attribute) that has not changed
        since this view's basis).
        """
        store = self.store
        follow: list[tuple[int, str, Orientation]] = []
        for attr, orientation in steps:
            info = store.info(attr)
            if not info.is_ref:
                raise SchemaError(f"{attr} is not a ref attribute; a walk follows refs")
            if orientation not in ("out", "in"):
                raise ValueError(f"orientation must be 'out' or 'in', got {orientation!r}")
            follow.append((info.id, info.name, orientation))
        follow = list(dict.fromkeys(follow))
        out_attrs = [(a, name) for a, name, o in follow if o == "out"]
        in_attrs = [(a, name) for a, name, o in follow if o == "in"]
        basis, since, valid = self.basis_tx, self.since_tx, self.valid
        reads = self._reads if self._reads is not store else store.reading()
        entity_of, links_to = reads.entity_of, reads.links_to
        cached_entity, cached_links = store.entity_cache.get, store.links_cache.get
        result = Traversal()
        result._both_ways = bool({a for a, _ in out_attrs} & {a for a, _ in in_attrs})
        depth, seen = result.depth, result._seen
        frontier = list(dict.fromkeys(starts))
        for s in frontier:
            depth[s] = 0
        level = 0
        while frontier and level < max_depth:
            level += 1
            following: list[int] = []
            for node in frontier:
                if out_attrs:
                    entity = cached_entity(node) or entity_of(node)
                    for a, name in out_attrs:
                        nb = entity.refs.get(a)
                        if nb is None:
                            continue
                        if (
                            basis >= nb[SETTLED]
                            and valid >= nb[VALID_SETTLED]
                            and since < nb[FIRST]
                        ):
                            others: Sequence[int] = nb[CURRENT]
                        else:
                            others = visible(nb, basis, since, valid)
                            if not others:
                                continue
                        seen.append((node, name, "out", others))
                        for other in others:
                            if other not in depth:
                                depth[other] = level
                                following.append(other)
                if in_attrs:
                    links = cached_links(node)
                    if links is None:
                        links = links_to(node)
                    for a, name in in_attrs:
                        nb = links.get(a)
                        if nb is None:
                            continue
                        if (
                            basis >= nb[SETTLED]
                            and valid >= nb[VALID_SETTLED]
                            and since < nb[FIRST]
                        ):
                            others = nb[CURRENT]
                        else:
                            others = visible(nb, basis, since, valid)
                            if not others:
                                continue
                        seen.append((node, name, "in", others))
                        for other in others:
                            if other not in depth:
                                depth[other] = level
                                following.append(other)
            if max_nodes is not None and len(depth) >= max_nodes:
                result.truncated = bool(following)
                break
            frontier = following
        return result
