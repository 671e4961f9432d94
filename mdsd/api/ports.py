"""What the API needs from the running daemon, as narrow ports the composition root fills.

``create_app`` is handed a callable that answers ``Services`` once the daemon is up (None
while it is starting or stopping). Each member is one thing a route needs, so a test or a
benchmark builds an app from a store and a few plain functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from mds.wire import JSON
from mdsd.api.changes import ChangeFeed
from mdsd.intake.journal import DeadLetter, UnitState
from mdsd.reads.cost import ReadRunner
from mdsd.reads.units import UnitTimes
from store import Db, FactStore


class PrimaryOnly(Exception):
    """Work only the primary does (writes, dead letters, redrive, reconciliation), asked of
    a read-only replica; the message names the primary."""


class Accepted(Protocol):
    """What intake answers a submission with."""

    def to_json(self) -> JSON: ...


class Door(Protocol):
    """Intake as the ``/v1/events`` and ``/api/v1/lineage`` routes use it."""

    @property
    def max_request_bytes(self) -> int: ...

    async def submit(self, raw: bytes, origin: str) -> Accepted: ...

    async def submit_part(
        self, raw: bytes, origin: str, first_line: int, first_index: int
    ) -> Accepted: ...

    async def submit_lineage(self, raw: bytes, origin: str) -> Accepted: ...


class Search(Protocol):
    """Ranked hits shaped from the view ``db`` (``mdsd.reads.search.Search``)."""

    def __call__(
        self,
        query: str,
        *,
        entity_type: str | None = None,
        limit: int = 20,
        owners: bool = False,
        db: Db | None = None,
    ) -> JSON: ...


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the routes use, once the daemon is up."""

    facts: FactStore
    intake: Door
    changes: ChangeFeed
    search: Search
    #: the journal's record of the unit an aip id belongs to
    unit_state: Callable[[str], Awaitable[UnitState | None]]
    #: (last hydrated, last enriched) of the unit an aip id belongs to
    unit_times: Callable[[str], Awaitable[UnitTimes]]
    #: the quality report of a view, entities stale after so many days
    quality: Callable[[Db, int], Awaitable[JSON]]
    dead_letters: Callable[[int], Awaitable[list[DeadLetter]]]
    #: ``mds status``
    status: Callable[[], Awaitable[JSON]]
    #: True once nothing is left to do, within so many seconds
    wait_idle: Callable[[float], Awaitable[bool]]
    #: send dead letters (these ids, or all for None) through intake again
    redrive: Callable[[list[int] | None], Awaitable[JSON]]
    #: start a reconciliation pass, unless one runs
    reconcile: Callable[[], JSON]
    #: write a backup into a new or empty directory (an absolute path); its manifest
    backup: Callable[[str], Awaitable[JSON]]
    #: ``[enrichment] stale_days``: the default of the entity page and quality report
    stale_days: int
    #: runs reads off the event loop, each within the read limits
    reader: ReadRunner
    #: where an entity (its answer) is seen in its source's own UI, if anywhere
    source_url: Callable[[JSON], str | None] = lambda entity: None


#: the services once the daemon is ready, None before (and while it stops)
Ready = Callable[[], Services | None]
