"""Validity intervals: one entity's whole history, decoded once and answerable at any basis.

Each (attribute, value) of an entity is true over half-open transaction intervals
``[asserted_tx, retracted_tx)``. With those at hand, "the entity as of tx T" is a filter,
so current and as-of reads cost the same. The store caches intervals per entity (from EAVT)
and per reference target (from VAET) and drops an entry whenever a transaction touches it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from store.codec import MAX_U64, U32, U64, decode_value, tx_of

OPEN = MAX_U64  # the retraction tx of a value that is still true


class Fact(NamedTuple):
    """A value of an attribute of an entity, true from ``start`` (incl) to ``end`` (excl)."""

    a: int
    v: Any
    start: int
    end: int


class Link(NamedTuple):
    """An incoming reference: entity ``e`` points here through attribute ``a``."""

    a: int
    e: int
    start: int
    end: int


def visible(start: int, end: int, basis: int, since: int) -> bool:
    return since < start <= basis < end


def _intervals(versions: list[tuple[int, bool]]) -> Iterable[tuple[int, int]]:
    """Turn newest-first (tx, added) versions into [start, end) intervals."""
    opened: int | None = None
    for tx, added in reversed(versions):
        if added:
            if opened is None:
                opened = tx
        elif opened is not None:
            yield opened, tx
            opened = None
    if opened is not None:
        yield opened, OPEN


def grouped_intervals(keys: Iterable[bytes], head: int) -> Iterator[tuple[bytes, int, int]]:
    """(group, start, end) for keys shaped ``prefix[:head] group ~tx op``.

    Keys of one group arrive together, newest version first, as every index orders them.
    """
    group: bytes | None = None
    versions: list[tuple[int, bool]] = []
    for key in keys:
        body = key[head:-9]
        if body != group:
            if group is not None:
                for s, e in _intervals(versions):
                    yield group, s, e
            group, versions = body, []
        versions.append((tx_of(key[-9:-1]), key[-1] == 1))
    if group is not None:
        for s, e in _intervals(versions):
            yield group, s, e


def facts_from_eavt(keys: Iterable[bytes]) -> list[Fact]:
    """Decode the EAVT keys of one entity (``E e a v ~tx op``) into facts."""
    facts: list[Fact] = []
    decoded: dict[bytes, tuple[int, Any]] = {}
    for group, s, e in grouped_intervals(keys, 9):
        av = decoded.get(group)
        if av is None:
            av = decoded[group] = (U32.unpack_from(group)[0], decode_value(group[4:]))
        facts.append(Fact(av[0], av[1], s, e))
    return facts


def links_from_vaet(keys: Iterable[bytes]) -> list[Link]:
    """Decode the VAET keys of one target (``R v a e ~tx op``) into incoming links."""
    return [
        Link(U32.unpack_from(group)[0], U64.unpack_from(group, 4)[0], s, e)
        for group, s, e in grouped_intervals(keys, 9)
    ]


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

    def get(self, key: int) -> Any:
        return self._entries.get(key)

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
