"""Validity rectangles: one entity's whole history, decoded once and answerable at any view.

Every fact has two times: its valid time (when it was true in the source) and its system
time (the transaction that recorded it). A view asks at one point of each: valid time V,
system basis T. A fact is true there when, among its datoms with ``tx <= T`` and
``valid <= V``, the latest by (valid, tx) is an assertion; so a late correction with an
earlier valid time changes the past from its own transaction on, never before it.

Decoded, each (attribute, value) is a set of rectangles ``[start, end) x [valid_start,
valid_end)``: system-time transactions by valid-time microseconds, as XTDB draws them. With
those at hand, a view is a filter, so current and as-of reads cost the same. The store
caches, per entity, its facts (from EAVT) and its incoming references (from VAET), and drops
an entry whenever a transaction touches it.

References are also kept grouped by attribute as ``Neighbours``, the shape graph walks
want: a walk asks "which entities does e reach through attribute a in this view", and for
almost every (e, a) all edges are visible, which one range check can tell.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final, NamedTuple

from store.codec import MAX_U64, SIGN_BIT, VALID_OPEN, decode_value

OPEN = MAX_U64  # the end transaction of what is still known
#: below every valid time: the valid summary of references none of which is still known
_NEVER = -VALID_OPEN


class Fact(NamedTuple):
    """A value of an attribute of an entity, known from transaction ``start`` (incl) to
    ``end`` (excl) as true from valid time ``valid_start`` (incl) to ``valid_end`` (excl)."""

    a: int
    v: Any
    start: int
    end: int
    valid_start: int
    valid_end: int


#: How the cache holds a ``Fact``: a plain tuple (a, v, start, end, valid_start, valid_end).
#: The garbage collector stops tracking plain tuples of plain values, but never named
#: tuples, and a full collection would otherwise walk every cached fact of every entity.
RawFact = tuple[int, Any, int, int, int, int]
#: One rectangle of a group of datoms: (group bytes, start, end, valid_start, valid_end).
Rectangle = tuple[bytes, int, int, int, int]


#: The entities one entity reaches through one ref attribute, each edge with its
#: rectangle: ``(ids, starts, ends, valid_starts, valid_ends, first, last, until, settled,
#: current, valid_last, valid_until, valid_settled)``, a plain tuple of ints and tuples of
#: ints, so that the garbage collector stops tracking it. (As a class it was three objects
#: the collector walked on every full collection, per cached entity and attribute: with
#: 10k entities cached a full collection took 58 ms.)
#:
#: Two summaries let a view skip the per-edge checks in the common cases (both need
#: ``since < first``, true for every view but ``since`` ones):
#:
#: * ``basis >= settled`` and ``valid >= valid_settled`` (the current view, and any view
#:   after the last change here on both axes): exactly the edges still open on both axes
#:   are visible, precomputed as ``current``;
#: * ``last <= basis < until`` and ``valid_last <= valid < valid_until`` (a view inside
#:   every edge's rectangle): every edge is visible, ``ids`` as is.
Neighbours = tuple[
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    int,
    int,
    int,
    int,
    tuple[int, ...],
    int,
    int,
    int,
]
IDS: Final = 0
STARTS: Final = 1
ENDS: Final = 2
VALID_STARTS: Final = 3
VALID_ENDS: Final = 4
FIRST: Final = 5
LAST: Final = 6
UNTIL: Final = 7
SETTLED: Final = 8
CURRENT: Final = 9
VALID_LAST: Final = 10
VALID_UNTIL: Final = 11
VALID_SETTLED: Final = 12


def neighbours(edges: Sequence[tuple[int, int, int, int, int]]) -> Neighbours:
    """The ``Neighbours`` of (id, start, end, valid_start, valid_end) edges, in order."""
    ids, starts, ends, valid_starts, valid_ends = zip(*edges, strict=True)
    last = max(starts)
    closed = [e for e in ends if e != OPEN]
    settled = max(last, *closed) if closed else last
    known = [
        (vs, ve) for e, vs, ve in zip(ends, valid_starts, valid_ends, strict=True) if e == OPEN
    ]
    if closed or any(ve != VALID_OPEN for _, ve in known):
        current = tuple(
            i
            for i, e, ve in zip(ids, ends, valid_ends, strict=True)
            if e == OPEN and ve == VALID_OPEN
        )
    else:
        current = ids
    valid_settled = max((ve if ve != VALID_OPEN else vs for vs, ve in known), default=_NEVER)
    return (
        ids,
        starts,
        ends,
        valid_starts,
        valid_ends,
        min(starts),
        last,
        min(ends),
        settled,
        current,
        max(valid_starts),
        min(valid_ends),
        valid_settled,
    )


def visible(nb: Neighbours, basis: int, since: int, valid: int) -> Sequence[int]:
    """The ids whose edge is visible in a view with this basis, since and valid time."""
    if since < nb[FIRST]:
        if basis >= nb[SETTLED] and valid >= nb[VALID_SETTLED]:
            return nb[CURRENT]
        if nb[LAST] <= basis < nb[UNTIL] and nb[VALID_LAST] <= valid < nb[VALID_UNTIL]:
            return nb[IDS]
    return [
        i
        for i, s, e, vs, ve in zip(
            nb[IDS], nb[STARTS], nb[ENDS], nb[VALID_STARTS], nb[VALID_ENDS], strict=True
        )
        if since < s <= basis < e and vs <= valid < ve
    ]


class EntityIntervals:
    """Everything ever stated about one entity (one EAVT prefix), decoded by attribute when
    first asked.

    The xid and the references are decoded at once (existence and walks need them); every
    other attribute keeps its raw index items until a read asks for it. A summary asks for
    three attributes of an entity that has twenty, and decoding all of them (JSON payloads
    included) was most of a cold lineage. Decoding is idempotent, so two threads that
    decode one attribute at once store the same thing.
    """

    __slots__ = ("_all", "_decoded", "_pending", "_tops", "created", "lives", "refs", "xid")

    def __init__(self, by_attr: dict[int, Sequence[tuple[bytes, bytes]]]) -> None:
        #: attribute id -> its index items not decoded yet, in EAVT (attribute) order
        self._pending = by_attr
        #: attribute id -> its facts, once decoded
        self._decoded: dict[int, tuple[RawFact, ...]] = {}
        self._tops: Tops = {}
        #: every attribute's facts, once asked for all
        self._all: tuple[RawFact, ...] | None = None
        self.xid: str | None = None
        #: the transaction that created the entity (asserted its xid); 0 if it does not exist
        self.created = 0
        #: outgoing references by attribute
        self.refs: dict[int, Neighbours] = {}
        #: when the entity exists: the rectangles (start, end, valid_start, valid_end) of
        #: its xid
        self.lives: tuple[tuple[int, int, int, int], ...] = ()

    def facts_of(self, a: int) -> tuple[RawFact, ...]:
        """The rectangles of every value of attribute ``a``, by value."""
        found = self._decoded.get(a)
        if found is None:
            items = self._pending.get(a)
            if items is None:  # never stated, or decoded by another thread meanwhile
                return self._decoded.get(a, ())
            found = tuple(
                (a, decode_value(group[4:]), start, end, valid_start, valid_end)
                for group, start, end, valid_start, valid_end in rectangles(items, 9, self._tops)
            )
            self._decoded[a] = found
            self._pending.pop(a, None)
        return found

    @property
    def facts(self) -> tuple[RawFact, ...]:
        """Every rectangle of every value, EAVT order (by attribute, then value)."""
        everything = self._all
        if everything is None:
            pending = self._pending
            if pending:  # all at once: one pass costs less than one per attribute
                attrs = sorted(pending)
                items = [item for a in attrs for item in pending.get(a, ())]
                by_attr: dict[int, list[RawFact]] = {a: [] for a in attrs}
                for group, start, end, valid_start, valid_end in rectangles(items, 9, self._tops):
                    a = int.from_bytes(group[:4], "big")
                    fact = (a, decode_value(group[4:]), start, end, valid_start, valid_end)
                    by_attr[a].append(fact)
                for a in attrs:  # a thread's facts_of may have decoded some meanwhile
                    self._decoded.setdefault(a, tuple(by_attr[a]))
                    pending.pop(a, None)
            decoded = self._decoded
            everything = self._all = tuple(f for a in sorted(decoded) for f in decoded[a])
        return everything

    @property
    def tops(self) -> Tops:
        """``Tops`` of its multi-datom (attribute, value) groups, keyed ``a4 + v``."""
        self.facts  # noqa: B018  (decodes every attribute, which fills them)
        return self._tops


def _intervals(datoms: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The valid intervals where (valid, tx, added) datoms leave a fact true: walking them
    by (valid, tx), each datom sets the fact from its valid time on."""
    out: list[tuple[int, int]] = []
    opened: int | None = None
    for valid, _, added in sorted(datoms):
        if added:
            if opened is None:
                opened = valid
        elif opened is not None:
            if valid > opened:
                out.append((opened, valid))
            opened = None
    if opened is not None:
        out.append((opened, VALID_OPEN))
    return out


def _rectangles(group: bytes, versions: list[tuple[int, int, int]]) -> list[Rectangle]:
    """The rectangles of one group's (tx, added, valid) datoms, oldest transaction first:
    after each transaction, the valid intervals of all datoms so far; an interval lives from
    the transaction that made it to the one that changed it."""
    out: list[Rectangle] = []
    living: dict[tuple[int, int], int] = {}
    seen: list[tuple[int, int, int]] = []
    for tx, added, valid in versions:
        seen.append((valid, tx, added))
        now = set(_intervals(seen))
        for interval in [i for i in living if i not in now]:
            out.append((group, living.pop(interval), tx, *interval))
        for interval in now:
            if interval not in living:
                living[interval] = tx
    out.extend((group, start, OPEN, *interval) for interval, start in living.items())
    return out


def _restated(out: list[Rectangle], group: bytes, versions: list[tuple[int, int, int]]) -> None:
    """``_rectangles`` of a value only ever asserted (oldest transaction first): it is true
    from the earliest valid time asserted so far on, so a rectangle ends only where a
    transaction moved that start back. The common history (a stub described later,
    reaching back to its creation): four of five groups with several datoms, which the
    general replay made most of decoding a daemon's entity on first touch."""
    start, lowest = versions[0][0], versions[0][2]
    for tx, _, valid in versions[1:]:
        if valid < lowest:
            out.append((group, start, tx, lowest, VALID_OPEN))
            start, lowest = tx, valid
    out.append((group, start, OPEN, lowest, VALID_OPEN))


#: For a group of several datoms: (the latest valid time of any of its datoms, the latest
#: of its retractions, or ``NEVER``). A write needs them, not only the rectangles: a value
#: whose start moved back still has its older assertion, which a retraction must not leave
#: behind it, and a value that never held leaves no rectangle but bounds what follows it.
Tops = dict[bytes, tuple[int, int]]
NEVER = -VALID_OPEN


def rectangles(
    items: Sequence[tuple[bytes, bytes]], head: int, tops: Tops | None = None
) -> list[Rectangle]:
    """The rectangles of (key, value) index items shaped ``prefix[:head] group ~tx op`` ->
    valid time; with ``tops``, also each multi-datom group's ``Tops`` entry.

    Items of one group arrive together, newest transaction first, as every index orders
    them. Most groups have one datom (asserted and still true), which is the fast path.
    """
    out: list[Rectangle] = []
    sign = SIGN_BIT  # valid_of, inlined: this runs once per key of every entity decoded
    groups = [key[head:-9] for key, _ in items]
    n = len(items)
    i = 0
    while i < n:
        group = groups[i]
        j = i + 1
        if j < n and groups[j] == group:
            while j < n and groups[j] == group:
                j += 1
            versions = [
                (
                    MAX_U64 - int.from_bytes(key[-9:-1], "big"),
                    key[-1],
                    int.from_bytes(value, "big") - sign,
                )
                for key, value in reversed(items[i:j])
            ]
            if all(added for _, added, _ in versions):
                _restated(out, group, versions)
            else:
                out.extend(_rectangles(group, versions))
            if tops is not None:
                retracted = [valid for _, added, valid in versions if not added]
                tops[group] = (max(v for _, _, v in versions), max(retracted, default=NEVER))
        else:
            key, value = items[i]
            if key[-1] == 1:
                tx = MAX_U64 - int.from_bytes(key[-9:-1], "big")
                out.append((group, tx, OPEN, int.from_bytes(value, "big") - sign, VALID_OPEN))
        i = j
    return out


def _neighbours(
    edges: dict[int, list[tuple[int, int, int, int, int]]],
) -> dict[int, Neighbours]:
    return {a: neighbours(found) for a, found in edges.items()}


def entity_from_eavt(
    items: Sequence[tuple[bytes, bytes]],
    xid_attr: int,
    ref_attrs: Collection[int],
    *,
    lazy: bool = False,
) -> EntityIntervals:
    """Decode the EAVT items of one entity (``E e a v ~tx op`` -> valid time).

    ``lazy``: its xid and references now, the rest when asked (``EntityIntervals``), for
    answers that read a few attributes of many entities (a lineage's summaries). Otherwise
    all of it in one pass, which costs less than attribute by attribute when a read wants
    the whole entity (a pull, a page)."""
    if not lazy:
        return _entity_at_once(items, xid_attr, ref_attrs)
    by_attr: dict[int, Sequence[tuple[bytes, bytes]]] = {}
    n = len(items)
    i = 0
    while i < n:
        a4 = items[i][0][9:13]
        j = i + 1
        while j < n and items[j][0][9:13] == a4:
            j += 1
        by_attr[int.from_bytes(a4, "big")] = tuple(items[i:j])  # the collector skips tuples
        i = j
    entity = EntityIntervals(by_attr)
    lives = [(start, end, vs, ve) for _, _, start, end, vs, ve in entity.facts_of(xid_attr)]
    if lives:
        entity.xid = entity.facts_of(xid_attr)[0][1]
        entity.created = min(start for start, _, _, _ in lives)
        entity.lives = tuple(lives)
    for a in list(by_attr):
        if a in ref_attrs:
            facts = entity.facts_of(a)
            if not facts:
                continue
            if all(end == OPEN and valid_end == VALID_OPEN for _, _, _, end, _, valid_end in facts):
                ids = [v for _, v, _, _, _, _ in facts]  # every edge still open: the usual
                entity.refs[a] = _asserted(ids, [f[2] for f in facts], [f[4] for f in facts])
            else:
                entity.refs[a] = neighbours([(v, s, end, vs, ve) for _, v, s, end, vs, ve in facts])
    return entity


def _entity_at_once(
    items: Sequence[tuple[bytes, bytes]], xid_attr: int, ref_attrs: Collection[int]
) -> EntityIntervals:
    """``entity_from_eavt``, every attribute decoded in one pass."""
    by_attr: dict[int, list[RawFact]] = {}
    lives: list[tuple[int, int, int, int]] = []
    refs: dict[int, list[tuple[int, int, int, int, int]]] = {}
    entity = EntityIntervals({})
    for group, start, end, valid_start, valid_end in rectangles(items, 9, entity._tops):
        a = int.from_bytes(group[:4], "big")
        v = decode_value(group[4:])
        found = by_attr.get(a)
        if found is None:
            found = by_attr[a] = []
        found.append((a, v, start, end, valid_start, valid_end))
        if a == xid_attr:
            entity.xid = v
            lives.append((start, end, valid_start, valid_end))
        elif a in ref_attrs:
            refs.setdefault(a, []).append((v, start, end, valid_start, valid_end))
    entity._decoded = {a: tuple(facts) for a, facts in by_attr.items()}
    entity._all = tuple(f for facts in by_attr.values() for f in facts)
    if lives:
        entity.created = min(start for start, _, _, _ in lives)
        entity.lives = tuple(lives)
    entity.refs = _neighbours(refs)
    return entity


#: A VAET key after its ``R`` and target: attribute, source, ``~tx`` (then the op byte).
_VAET_TAIL = struct.Struct(">IQQ")


def links_from_vaet(items: Sequence[tuple[bytes, bytes]]) -> dict[int, Neighbours]:
    """Decode the VAET items of one target (``R v a e ~tx op``): sources by attribute.

    Nearly every reference is asserted once and never retracted; while that holds, the
    ``Neighbours`` are built straight from the keys (what ``rectangles`` and
    ``neighbours`` would compute for them, without their general bookkeeping). A walk's
    first touch is mostly this decoding: it was 57% of a cold 6-hop walk, this fast path
    cuts it by about three."""
    unpack, sign = _VAET_TAIL.unpack_from, SIGN_BIT
    by_attr: dict[int, tuple[list[int], list[int], list[int]]] = {}
    previous = b""
    for key, value in items:
        group = key[9:21]
        if key[29] != 1 or group == previous:  # a retraction, or a group with history
            return _links_with_history(items)
        previous = group
        a, source, not_tx = unpack(key, 9)
        found = by_attr.get(a)
        if found is None:
            found = by_attr[a] = ([], [], [])
        found[0].append(source)
        found[1].append(MAX_U64 - not_tx)
        found[2].append(int.from_bytes(value, "big") - sign)
    return {a: _asserted(*found) for a, found in by_attr.items()}


def _asserted(ids: list[int], starts: list[int], valid_starts: list[int]) -> Neighbours:
    """``neighbours`` of edges each asserted once and still open on both axes."""
    k = len(ids)
    last, valid_last = max(starts), max(valid_starts)
    ids_t = tuple(ids)
    return (
        ids_t,
        tuple(starts),
        (OPEN,) * k,
        tuple(valid_starts),
        (VALID_OPEN,) * k,
        min(starts),
        last,
        OPEN,
        last,
        ids_t,
        valid_last,
        VALID_OPEN,
        valid_last,
    )


def _links_with_history(items: Sequence[tuple[bytes, bytes]]) -> dict[int, Neighbours]:
    """``links_from_vaet`` for targets some of whose references changed."""
    links: dict[int, list[tuple[int, int, int, int, int]]] = {}
    for group, start, end, valid_start, valid_end in rectangles(items, 9):
        a = int.from_bytes(group[:4], "big")
        source = int.from_bytes(group[4:], "big")
        links.setdefault(a, []).append((source, start, end, valid_start, valid_end))
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
