"""What reading a fact store offers: the port a ``Db`` view and a write read through.

A Protocol, so that views and transactions (lower modules) need not import the store that
makes them: ``FactStore`` is the one implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from store.attrinfo import AttrInfo
from store.intervals import EntityIntervals, IntervalCache, Neighbours
from store.reading import Reads
from store.schema import Attribute
from store.tx import TxChanges, TxReport

__all__ = ["EntityReads", "FactSource"]


class EntityReads(Protocol):
    """Decoded entities and reverse references: what views read most (a ``FactSource``,
    or the ``Reads`` of one answer)."""

    def entity_of(self, e: int) -> EntityIntervals:
        """Everything ever stated about ``e``, decoded."""

    def links_to(self, e: int) -> dict[int, Neighbours]:
        """The references pointing at ``e``, by attribute."""


class FactSource(Protocol):
    """The reads of a fact store, by entity id, attribute and transaction."""

    @property
    def last_tx(self) -> int:
        """The last committed transaction."""

    @property
    def entity_cache(self) -> IntervalCache:
        """Decoded entities (``EntityIntervals``) by id; readers may look, only the store fills it."""

    @property
    def links_cache(self) -> IntervalCache:
        """Decoded reverse references by target id; readers may look, only the store fills it."""

    def attribute(self, name: str) -> Attribute:
        """The attribute named ``name``; ``SchemaError`` if there is none."""

    def info(self, name: str) -> AttrInfo:
        """The attribute named ``name`` with its id and key prefixes."""

    def info_by_id(self, attr_id: int) -> AttrInfo:
        """The attribute with id ``attr_id``."""

    def attr_id(self, name: str) -> int:
        """The id of the attribute named ``name``."""

    def attr_name(self, attr_id: int) -> str:
        """The name of the attribute with id ``attr_id``."""

    def tx_at(self, moment: datetime) -> int:
        """The last transaction committed at or before ``moment`` (0 if none)."""

    def instant_of(self, tx: int) -> datetime | None:
        """When ``tx`` was committed (None if it was not)."""

    def scan(self, prefix: bytes) -> list[bytes]:
        """Every key starting with ``prefix``, in order."""

    def scan_items(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Every (key, valid time) whose key starts with ``prefix``, in order."""

    def entity_of(self, e: int) -> EntityIntervals:
        """Everything ever stated about ``e``, decoded."""

    def created_tx(self, e: int) -> int:
        """The transaction that created ``e``, 0 if none did."""

    def links_to(self, e: int) -> dict[int, Neighbours]:
        """The references pointing at ``e``, by attribute."""

    def reading(self) -> Reads:
        """``entity_of`` and ``links_to`` for one answer, through one iterator."""

    def lookup_xid(self, xid: str) -> int | None:
        """The internal id of an external id."""

    def xid_of(self, e: int) -> str | None:
        """The external id of entity ``e``."""

    def log(self, start_tx: int = 1, end_tx: int | None = None) -> Iterator[TxReport]:
        """Transactions ``start_tx <= tx < end_tx`` in order, decoded."""

    def history(self, e: int) -> list[TxChanges]:
        """Every transaction that touched entity ``e``, oldest first."""
