"""Validity intervals: one entity's whole history, decoded once and answerable at any basis.

Each (attribute, value) of an entity is true over half-open transaction intervals
``[asserted_tx, retracted_tx)``. With those at hand, "the entity as of tx T" is a filter,
so current and as-of reads cost the same. The store caches, per entity, its facts (from
EAVT) and its incoming references (from VAET), and drops an entry whenever a transaction
touches it.

References are also kept grouped by attribute as ``Neighbours``, the shape graph walks
want: a walk asks "which entities does e reach through attribute a at basis T", and for
almost every (e, a) all edges are visible at T, which one range check can tell.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final, NamedTuple

from store.codec import MAX_U64, decode_value

OPEN = MAX_U64  # the retraction tx of a value that is still true


class Fact(NamedTuple):
    """A value of an attribute of an entity, true from ``start`` (incl) to ``end`` (excl)."""

    a: int
    v: Any
    start: int
    end: int


#: How the cache holds a ``Fact``: a plain tuple (a, v, start, end). The garbage collector
#: stops tracking plain tuples of plain values, but never named tuples, and a full
#: collection would otherwise walk every cached fact of every cached entity.
RawFact = tuple[int, Any, int, int]


#: The entities one entity reaches through one ref attribute, each edge with its
#: interval: ``(ids, starts, ends, first, last, until, settled, current)``, a plain tuple of
#: ints and tuples of ints, so that the garbage collector stops tracking it. (As a class it
#: was three objects the collector walked on every full collection, per cached entity and
#: attribute: with 10k entities cached a full collection took 58 ms, and a backfill ran one
#: every few seconds, holding the event loop meanwhile.)
#:
#: Two summaries let a view skip the per-edge checks in the common cases (both need
#: ``since < first``, true for every view but ``since`` ones):
#:
#: * ``basis >= settled`` (the current view, and any view after the last change here):
#:   exactly the edges still open are visible, precomputed as ``current``;
#: * ``last <= basis < until`` (a view between the last assertion and the first
#:   retraction): every edge is visible, ``ids`` as is.
Neighbours = tuple[
    tuple[int, ...], tuple[int, ...], tuple[int, ...], int, int, int, int, tuple[int, ...]
]
IDS: Final = 0
STARTS: Final = 1
ENDS: Final = 2
FIRST: Final = 3
LAST: Final = 4
UNTIL: Final = 5
SETTLED: Final = 6
CURRENT: Final = 7


def neighbours(edges: Sequence[tuple[int, int, int]]) -> Neighbours:
    """The ``Neighbours`` of (id, start, end) edges, in the order given."""
    ids, starts, ends = zip(*edges, strict=True)
    last = max(starts)
    closed = [e for e in ends if e != OPEN]
    settled = max(last, *closed) if closed else last
    current = tuple(i for i, e in zip(ids, ends, strict=True) if e == OPEN) if closed else ids
    return (ids, starts, ends, min(starts), last, min(ends), settled, current)


def visible(nb: Neighbours, basis: int, since: int) -> Sequence[int]:
    """The ids whose edge is visible in a view with this basis and since."""
    if since < nb[FIRST]:
        if basis >= nb[SETTLED]:
            return nb[CURRENT]
        if nb[LAST] <= basis < nb[UNTIL]:
            return nb[IDS]
    return [
        i for i, s, e in zip(nb[IDS], nb[STARTS], nb[ENDS], strict=True) if since < s <= basis < e
    ]


class EntityIntervals:
    """Everything ever stated about one entity (one EAVT prefix), decoded."""

    __slots__ = ("created", "facts", "refs", "xid")

    def __init__(
        self,
        facts: tuple[RawFact, ...],
        xid: str | None,
        created: int,
        refs: dict[int, Neighbours],
    ) -> None:
        #: every version of every value, EAVT order (by attribute, then value); a tuple of
        #: tuples, which the garbage collector stops tracking altogether
        self.facts = facts
        self.xid = xid
        #: the transaction that created the entity (asserted its xid); 0 if it does not exist
        self.created = created
        #: outgoing references by attribute
        self.refs = refs


def spans(keys: Sequence[bytes], head: int) -> list[tuple[bytes, int, int]]:
    """(group, start, end) for keys shaped ``prefix[:head] group ~tx op``.

    Keys of one group arrive together, newest version first, as every index orders them.
    Most groups have one version (asserted and still true), which is the fast path.
    """
    out: list[tuple[bytes, int, int]] = []
    groups = [key[head:-9] for key in keys]
    n = len(keys)
    i = 0
    while i < n:
        group = groups[i]
        j = i + 1
        if j < n and groups[j] == group:
            while j < n and groups[j] == group:
                j += 1
            opened = 0
            for k in range(j - 1, i - 1, -1):  # oldest version first
                version = keys[k]
                tx = MAX_U64 - int.from_bytes(version[-9:-1], "big")
                if version[-1] == 1:
                    if not opened:
                        opened = tx
                elif opened:
                    out.append((group, opened, tx))
                    opened = 0
            if opened:
                out.append((group, opened, OPEN))
        else:
            key = keys[i]
            if key[-1] == 1:
                out.append((group, MAX_U64 - int.from_bytes(key[-9:-1], "big"), OPEN))
        i = j
    return out


def _neighbours(edges: dict[int, list[tuple[int, int, int]]]) -> dict[int, Neighbours]:
    return {a: neighbours(found) for a, found in edges.items()}


def entity_from_eavt(
    keys: Sequence[bytes], xid_attr: int, ref_attrs: Collection[int]
) -> EntityIntervals:
    """Decode the EAVT keys of one entity (``E e a v ~tx op``)."""
    facts: list[RawFact] = []
    xid: str | None = None
    created = 0
    refs: dict[int, list[tuple[int, int, int]]] = {}
    for group, start, end in spans(keys, 9):
        a = int.from_bytes(group[:4], "big")
        v = decode_value(group[4:])
        facts.append((a, v, start, end))
        if a == xid_attr:
            xid, created = v, start
        elif a in ref_attrs:
            refs.setdefault(a, []).append((v, start, end))
    return EntityIntervals(tuple(facts), xid, created, _neighbours(refs))


def links_from_vaet(keys: Sequence[bytes]) -> dict[int, Neighbours]:
    """Decode the VAET keys of one target (``R v a e ~tx op``): sources by attribute."""
    links: dict[int, list[tuple[int, int, int]]] = {}
    for group, start, end in spans(keys, 9):
        a = int.from_bytes(group[:4], "big")
        links.setdefault(a, []).append((int.from_bytes(group[4:], "big"), start, end))
    return _neighbours(links)


class IntervalCache:
    """A bounded map entity id -> decoded intervals, safe against concurrent writes.

    A reader fills an entry from a scan it started before a write may have landed; the
    generation check stops such a stale fill from being stored after the write dropped it.
    """

    def __init__(self, max_entries: int) -> None:
        self._entries: dict[int, Any] = {}
        self._max = max_entries
        self._generation = 0
        self._lock = threading.Lock()
        #: the bound method, for hot loops that look entries up by the thousand
        self.get = self._entries.get

    def __len__(self) -> int:
        return len(self._entries)

    def generation(self) -> int:
        return self._generation

    def put(self, key: int, value: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self._max:
                # Evict the oldest tenth (dicts keep insertion order): cheap and good enough
                # for a cache whose misses cost one prefix scan.
                for stale in list(self._entries)[: max(1, self._max // 10)]:
                    del self._entries[stale]
            self._entries[key] = value

    def invalidate(self, keys: Iterable[int]) -> None:
        with self._lock:
            self._generation += 1
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
