"""Db: an immutable view of the store at one basis transaction (current, as-of or since).

Every read of a view filters by its basis, so a view answers the same however much is
written after it was taken. ``as_of`` and ``since`` derive new views without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from store import codec
from store.codec import U32, U64
from store.intervals import Fact, grouped_intervals
from store.schema import XID, SchemaError
from store.tx import Datom

if TYPE_CHECKING:
    from store.store import FactStore

Orientation = Literal["out", "in"]


@dataclass(slots=True)
class Traversal:
    """The result of a bounded BFS: node depths, the edges walked and how each node was reached."""

    depth: dict[int, int] = field(default_factory=dict)
    #: (source, attribute, target) in the edge's own direction, each edge once
    edges: list[tuple[int, str, int]] = field(default_factory=list)
    #: node -> (previous node, attribute, orientation followed) for path reconstruction
    parent: dict[int, tuple[int, str, Orientation]] = field(default_factory=dict)
    truncated: bool = False

    def path_to(self, node: int) -> list[tuple[int, str, Orientation]]:
        """Steps from a start node to ``node``: [(previous, attribute, orientation), ...]."""
        steps = []
        while node in self.parent:
            previous, attr, orientation = self.parent[node]
            steps.append((previous, attr, orientation))
            node = previous
        steps.reverse()
        return steps


class Db:
    def __init__(self, store: FactStore, basis_tx: int, since_tx: int = 0) -> None:
        self.store = store
        self.basis_tx = basis_tx
        self.since_tx = since_tx

    def __repr__(self) -> str:
        return f"Db(basis_tx={self.basis_tx}, since_tx={self.since_tx})"

    # -- deriving views -----------------------------------------------------------------------

    def as_of(self, point: int | datetime) -> Db:
        """The database as it was right after transaction ``point`` (or at that instant)."""
        tx = self.store.tx_at(point) if isinstance(point, datetime) else point
        return Db(self.store, min(max(tx, 0), self.basis_tx), self.since_tx)

    def since(self, tx: int) -> Db:
        """Only what was asserted after ``tx`` (and up to this view's basis)."""
        return Db(self.store, self.basis_tx, max(tx, 0))

    @property
    def basis_at(self) -> datetime | None:
        return self.store.instant_of(self.basis_tx) if self.basis_tx else None

    # -- identity -----------------------------------------------------------------------------

    def entid(self, xid: str) -> int | None:
        """Internal id of ``xid`` if the entity exists in this view."""
        e = self.store.lookup_xid(xid)
        if e is None or not self.exists(e):
            return None
        return e

    def xid(self, e: int) -> str | None:
        xid_attr = self.store.attr_id(XID.name)
        for f in self.store.facts_of(e):
            if f.a == xid_attr:
                return str(f.v)
        return None

    def exists(self, e: int) -> bool:
        """Whether the entity had been created by this view's basis."""
        xid_attr = self.store.attr_id(XID.name)
        basis = self.basis_tx
        return any(f.a == xid_attr and f.start <= basis for f in self.store.facts_of(e))

    # -- entity reads -------------------------------------------------------------------------

    def facts(self, e: int) -> list[Fact]:
        basis, since = self.basis_tx, self.since_tx
        return [f for f in self.store.facts_of(e) if since < f.start <= basis < f.end]

    def entity(self, e: int) -> dict[str, Any]:
        """Attribute name -> value (a list for cardinality many); empty if nothing visible."""
        out: dict[str, Any] = {}
        store = self.store
        for f in self.facts(e):
            attribute = store.attribute_by_id(f.a)
            if attribute.many:
                out.setdefault(attribute.name, []).append(f.v)
            else:
                out[attribute.name] = f.v
        return out

    def get(self, e: int, attr: str) -> Any:
        """One attribute: its value, a list for cardinality many, ``None`` when absent."""
        attribute = self.store.attribute(attr)
        a = self.store.attr_id(attr)
        values = [f.v for f in self.facts(e) if f.a == a]
        if attribute.many:
            return values
        return values[0] if values else None

    def refs_out(self, e: int, attrs: Iterable[str] | None = None) -> list[tuple[str, int]]:
        """(attribute, target) of the entity's visible references."""
        store = self.store
        wanted = None if attrs is None else {store.attr_id(a) for a in attrs}
        return [
            (store.attr_name(f.a), f.v)
            for f in self.facts(e)
            if store.attribute_by_id(f.a).is_ref and (wanted is None or f.a in wanted)
        ]

    def refs_in(self, e: int, attrs: Iterable[str] | None = None) -> list[tuple[str, int]]:
        """(attribute, source) of the visible references pointing at ``e`` (VAET)."""
        store = self.store
        wanted = None if attrs is None else {store.attr_id(a) for a in attrs}
        basis, since = self.basis_tx, self.since_tx
        return [
            (store.attr_name(link.a), link.e)
            for link in store.links_to(e)
            if since < link.start <= basis < link.end and (wanted is None or link.a in wanted)
        ]

    def lookup(self, attr: str, value: Any) -> list[int]:
        """Entities whose ``attr`` currently equals ``value`` (AVET)."""
        attribute = self.store.attribute(attr)
        if not attribute.in_avet:
            raise SchemaError(f"{attr} is not indexed; declare it with indexed=True")
        if attribute.is_ref:
            return [src for a, src in self.refs_in(value, [attr])]
        prefix = codec.AVET + U32.pack(self.store.attr_id(attr))
        prefix += codec.encode_value(attribute.value_type, value)
        basis, since = self.basis_tx, self.since_tx
        return sorted(
            {
                int(U64.unpack(group)[0])
                for group, start, end in grouped_intervals(self.store.scan(prefix), len(prefix))
                if since < start <= basis < end
            }
        )

    def entities_with(self, attr: str) -> Iterator[tuple[int, Any]]:
        """(entity, value) for every visible datom of ``attr``, in entity order (AEVT)."""
        prefix = codec.AEVT + U32.pack(self.store.attr_id(attr))
        basis, since = self.basis_tx, self.since_tx
        for group, start, end in grouped_intervals(self.store.scan(prefix), len(prefix)):
            if since < start <= basis < end:
                yield int(U64.unpack_from(group)[0]), codec.decode_value(group[8:])

    def datoms(self, e: int) -> list[Datom]:
        """The entity's visible datoms, EAVT order."""
        store = self.store
        return [Datom(e, store.attr_name(f.a), f.v, f.start, True) for f in self.facts(e)]

    # -- graph reads ----------------------------------------------------------------------------

    def pull(self, e: int, *, depth: int = 0, reverse: bool = True) -> dict[str, Any]:
        """The entity with its attributes; refs nested ``depth`` levels; incoming refs under
        ``_in`` as {attribute: [source xids]} when ``reverse``."""
        return self._pull(e, depth, reverse, set())

    def _pull(self, e: int, depth: int, reverse: bool, seen: set[int]) -> dict[str, Any]:
        seen.add(e)
        store = self.store
        out: dict[str, Any] = {"db/id": e}
        for f in self.facts(e):
            attribute = store.attribute_by_id(f.a)
            value: Any = f.v
            if attribute.is_ref:
                if depth > 0 and f.v not in seen:
                    value = self._pull(f.v, depth - 1, False, seen)
                else:
                    value = {"db/id": f.v, XID.name: self.xid(f.v)}
            if attribute.many:
                out.setdefault(attribute.name, []).append(value)
            else:
                out[attribute.name] = value
        if reverse:
            incoming: dict[str, list[str | None]] = {}
            for attr, source in self.refs_in(e):
                incoming.setdefault(attr, []).append(self.xid(source))
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
        """Breadth-first walk following ``steps`` (attribute, out|in) up to ``max_depth`` hops."""
        store = self.store
        out_attrs = {store.attr_id(a) for a, o in steps if o == "out"}
        in_attrs = {store.attr_id(a) for a, o in steps if o == "in"}
        basis, since = self.basis_tx, self.since_tx
        result = Traversal()
        depth = result.depth
        parent = result.parent
        edges = result.edges
        frontier = list(dict.fromkeys(starts))
        for s in frontier:
            depth[s] = 0
        names = {a: store.attr_name(a) for a in out_attrs | in_attrs}
        level = 0
        while frontier and level < max_depth:
            level += 1
            following: list[int] = []
            for node in frontier:
                if out_attrs:
                    for f in store.facts_of(node):
                        if f.a in out_attrs and since < f.start <= basis < f.end:
                            target = f.v
                            edges.append((node, names[f.a], target))
                            if target not in depth:
                                depth[target] = level
                                parent[target] = (node, names[f.a], "out")
                                following.append(target)
                if in_attrs:
                    for link in store.links_to(node):
                        if link.a in in_attrs and since < link.start <= basis < link.end:
                            source = link.e
                            edges.append((source, names[link.a], node))
                            if source not in depth:
                                depth[source] = level
                                parent[source] = (node, names[link.a], "in")
                                following.append(source)
            if max_nodes is not None and len(depth) >= max_nodes:
                result.truncated = bool(following)
                break
            frontier = following
        result.edges = list(dict.fromkeys(edges))
        return result
