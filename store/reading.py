"""Reads for one answer: the entities and reverse references it touches, through one iterator.

A cold read of one entity or one target's references is a RocksDB prefix scan. Making a
new iterator (and its read options) for every scan cost a fifth of a cold 6-hop walk;
an answer that touches a thousand entities (a walk, a lineage with its summaries) seeks
one iterator instead. What it decodes goes into the store's interval caches as any read
fills them, so later answers find it there.

The iterator is a snapshot of RocksDB when it was made, so it is made lazily (at the first
miss) after taking both caches' generations: a write that lands after it bumps them, and
the fills of this answer are then not kept (a later write must not hide behind them). A
view never reads past its basis, which was committed before the iterator was made.

Short-lived by design: an iterator keeps the database open (and its files pinned) while
it lives, so a ``Reads`` belongs to one answer and is dropped with it.
"""

from __future__ import annotations

from collections.abc import Callable

import rocksdict

from store import codec
from store.codec import U64
from store.intervals import EntityIntervals, IntervalCache, Neighbours, links_from_vaet

__all__ = ["Reads"]

Items = list[tuple[bytes, bytes]]


class Reads:
    """``entity_of`` and ``links_to`` of one answer: cache first, then one shared iterator."""

    __slots__ = ("_decode_entity", "_entities", "_generations", "_iterator", "_links", "_open")

    def __init__(
        self,
        open_iterator: Callable[[], rocksdict.RdictIter],
        entities: IntervalCache,
        links: IntervalCache,
        decode_entity: Callable[[int, Items], EntityIntervals],
    ) -> None:
        self._open = open_iterator
        self._entities = entities
        self._links = links
        self._decode_entity = decode_entity
        self._iterator: rocksdict.RdictIter | None = None
        self._generations = (0, 0)

    def _items(self, prefix: bytes) -> Items:
        """Every (key, value) under ``prefix``, by seeking the answer's iterator."""
        iterator = self._iterator
        if iterator is None:
            self._generations = (self._entities.generation(), self._links.generation())
            iterator = self._iterator = self._open()
        iterator.seek(prefix)
        valid, key_of, value_of, step = iterator.valid, iterator.key, iterator.value, iterator.next
        out: Items = []
        while valid():
            key: bytes = key_of()
            if not key.startswith(prefix):
                break
            out.append((key, value_of()))
            step()
        return out

    def entity_of(self, e: int) -> EntityIntervals:
        """Everything ever stated about ``e``, decoded (``FactStore.entity_of``)."""
        cached: EntityIntervals | None = self._entities.get(e)
        if cached is None:
            cached = self._decode_entity(e, self._items(codec.EAVT + U64.pack(e)))
            self._entities.put(e, cached, self._generations[0])
        return cached

    def links_to(self, e: int) -> dict[int, Neighbours]:
        """The references pointing at ``e``, by attribute (``FactStore.links_to``)."""
        cached: dict[int, Neighbours] | None = self._links.get(e)
        if cached is None:
            cached = links_from_vaet(self._items(codec.VAET + U64.pack(e)))
            self._links.put(e, cached, self._generations[1])
        return cached
