"""What the enrichment room needs from the rest of the daemon, as narrow ports.

The composition root (``mdsd.daemon``) hands the enrichment loop and the reconciler only
these: a view of the facts, the journal operations they use, a way to commit and a way to
queue work through the durable intake. Tests build them from small fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from mdsd.intake.journal import QueuedEvent
from store import Db, Op, TxReport

#: write ``ops`` as one transaction (with ``meta``) and fan it out like any other commit
Commit = Callable[[Sequence[Op], dict[str, Any]], TxReport | None]
#: persist work (``QueuedEvent``s from ``origin``) through intake and schedule it;
#: returns how many were queued
Enqueue = Callable[[list[QueuedEvent], str], Awaitable[int]]
#: the hydration unit of an aip id, None when its source is not configured
UnitOf = Callable[[str], str | None]


class Facts(Protocol):
    """The fact store as enrichment reads it: views, and the log of what was written."""

    @property
    def last_tx(self) -> int: ...

    def db(self) -> Db: ...

    def log(self, start_tx: int = 1, end_tx: int | None = None) -> Iterator[TxReport]: ...


class Pending(Protocol):
    """The journal's queue, to skip units already waiting for hydration."""

    def pending(self) -> Awaitable[list[tuple[str, str, int]]]: ...

    def unit_times(self) -> Awaitable[dict[str, tuple[float | None, float | None]]]:
        """unit -> (when mds last read it, when it last enriched it), epoch seconds."""


class EnrichmentJournal(Pending, Protocol):
    """The journal operations the enrichment loop uses."""

    def record_enriched(self, units: Iterable[str]) -> Awaitable[None]: ...
