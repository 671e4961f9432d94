"""Reads of what the facts do not hold: hydration units' times and failures, and quality.

The journal knows when each hydration unit was last read and enriched and which are
failing; enrichment knows which units it keeps asking for. The entity page, GraphQL's
``lastHydratedAt``/``lastEnrichedAt`` and the quality report read them through ``UnitReads``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mds.wire.model import parse_aip_id
from mdsd.intake.journal import UnitState
from mdsd.reads import insights
from store import Db

#: (last hydrated, last enriched) epoch seconds of an entity's unit; None when never read
UnitTimes = tuple[float | None, float | None] | None


class UnitJournal(Protocol):
    """The journal's records of hydration units."""

    def unit_state(self, unit: str) -> Awaitable[UnitState | None]: ...

    def unit_times(self) -> Awaitable[dict[str, tuple[float | None, float | None]]]: ...

    def failing_units(self, limit: int = 100) -> Awaitable[list[UnitState]]: ...


class Asks(Protocol):
    """What the enrichment loop tells the quality report about its own work."""

    @property
    def last_pass_started_at(self) -> float | None: ...

    def asked(self) -> dict[str, int]: ...


class NoAsks:
    """``Asks`` where no enrichment loop runs beside the reads (a read worker, a replica):
    nothing asked, no pass started."""

    last_pass_started_at: float | None = None

    def asked(self) -> dict[str, int]:
        return {}


class UnitReads:
    """Unit records by aip id; ``unit_of`` maps an id to its hydration unit (None when its
    source is not configured)."""

    def __init__(
        self, journal: UnitJournal, unit_of: Callable[[str], str | None], asks: Asks
    ) -> None:
        self.journal = journal
        self.unit_of = unit_of
        self.asks = asks

    async def state(self, xid: str) -> UnitState | None:
        """The journal's record of reading the unit ``xid`` belongs to (times, failures);
        an entity of an unconfigured source is its own unit."""
        try:
            parse_aip_id(xid)
        except ValueError:
            return None
        return await self.journal.unit_state(self.unit_of(xid) or xid)

    async def times(self, xid: str) -> UnitTimes:
        """(last hydrated, last enriched) epoch seconds of the unit ``xid`` belongs to."""
        state = await self.state(xid)
        if state is None:
            return None
        return state.last_ok_at, state.last_enriched_at

    async def quality(self, db: Db, stale_days: int) -> dict[str, Any]:
        """The quality report of the view ``db`` (``mds quality``)."""
        failing = await self.journal.failing_units(100_000)
        context = insights.QualityContext(
            stale_days=stale_days,
            unit_times=await self.journal.unit_times(),
            failing={u.unit: u.last_error or "" for u in failing},
            asked=self.asks.asked(),
            last_pass_started_at=self.asks.last_pass_started_at,
            unit_of=self.unit_of,
        )
        # a bulk read of a pinned view: a thread keeps the event loop answering meanwhile
        return await asyncio.to_thread(insights.quality, db, context)
