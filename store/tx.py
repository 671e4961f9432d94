"""Transaction operations and their reports.

Every op may say its valid time: when what it states became true in the world (a source's
``created_at`` or ``updated_at``). Without one it takes the transaction's default, which is
the transaction's own instant unless ``FactStore.transact`` is given another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

#: An entity named by its internal id or its external id (``db/xid``). An internal id must
#: name an existing entity; an unknown xid creates the entity (except in ``Retract``).
EntityRef = int | str


@dataclass(frozen=True, slots=True)
class Add:
    """Assert ``value``. For cardinality one, the old value is retracted in the same tx.

    Asserting a value that is already true with an earlier ``valid`` moves its start back."""

    e: EntityRef
    attr: str
    value: Any
    valid: datetime | None = None


@dataclass(frozen=True, slots=True)
class Retract:
    """Retract ``value`` if it is currently true; otherwise nothing (an unknown entity or
    ref target is not created)."""

    e: EntityRef
    attr: str
    value: Any
    valid: datetime | None = None


@dataclass(frozen=True, slots=True)
class Replace:
    """Make exactly ``values`` true for (e, attr): retract the rest, assert what is missing.

    For cardinality one give zero or one value. This is how a source's current description
    of an entity is written without the caller computing diffs.
    """

    e: EntityRef
    attr: str
    values: tuple[Any, ...] | list[Any] = field(default_factory=tuple)
    valid: datetime | None = None


@dataclass(frozen=True, slots=True)
class Interpose:
    """Make exactly ``values`` true for (e, attr) from ``valid`` until the attribute's next
    datom after it, leaving what was stated for later as it was: a late statement slotted
    into the past (XTDB's bounded ``put``, with the bound the store's own next change).

    With nothing stated after ``valid`` it is a ``Replace``. A source whose events carry
    their own time writes every changing field this way, so an event delivered late lands
    between the values around it instead of overriding the later one. It must be the only
    op on its (e, attr) in a transaction, save another ``Interpose`` at the same moment.
    """

    e: EntityRef
    attr: str
    values: tuple[Any, ...] | list[Any] = field(default_factory=tuple)
    valid: datetime | None = None


@dataclass(frozen=True, slots=True)
class Created:
    """The entity exists from ``valid`` on: creates it (an unknown xid) or moves its known
    start back (never forward), as Datomic's ``:db/txInstant`` does for an import of
    historical data, but per entity."""

    e: EntityRef
    valid: datetime


Op = Add | Retract | Replace | Interpose | Created


class Datom(NamedTuple):
    """(entity, attribute, value, tx, added, valid): one fact, asserted or retracted in
    transaction ``tx`` (system time) as of ``valid`` (valid time)."""

    e: int
    a: str
    v: Any
    tx: int
    added: bool
    valid: datetime


@dataclass(frozen=True, slots=True)
class TxReport:
    tx: int
    at: datetime
    meta: dict[str, Any]
    datoms: list[Datom]
    #: external ids of entities this transaction created -> their internal ids
    created: dict[str, int]

    @property
    def entities(self) -> set[int]:
        return {d.e for d in self.datoms}


@dataclass(frozen=True, slots=True)
class TxChanges:
    """What one transaction did to one entity (a step of ``history``)."""

    tx: int
    at: datetime
    meta: dict[str, Any]
    datoms: list[Datom]
