"""Keeping the intake journal from growing with what no longer matters.

Two things outlive their use there: seen event ids past their de-duplication window
(pruned on enqueue only when events with ids arrive), and the per-unit rows of ids that
never named an entity (each junk id sent in left one for good). A pass at start-up and
then every ``HOUSEKEEPING_SECONDS`` drops both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from mdsd.intake.journal import Journal
from store import FactStore

log = logging.getLogger(__name__)

#: how often the journal is tidied
HOUSEKEEPING_SECONDS = 3600.0


def never_held(store: FactStore, units: Sequence[str]) -> list[str]:
    """The unit ids of ``units`` the fact store has no entity for (not even a deleted one
    or a stub): ids that never named anything."""
    db = store.db()
    return [unit for unit in units if db.entid(unit) is None]


async def tidy(journal: Journal, store: FactStore) -> tuple[int, int]:
    """One pass: (seen event ids forgotten, unit rows dropped)."""
    seen = await journal.prune_seen_events()
    units = await journal.prune_units(lambda page: never_held(store, page))
    if seen or units:
        log.info(
            "journal housekeeping: %d old event id(s), %d unknown unit(s) dropped", seen, units
        )
    return seen, units


async def keep_tidy(
    journal: Journal, store: FactStore, interval: float = HOUSEKEEPING_SECONDS
) -> None:
    """``tidy`` now and every ``interval`` seconds until cancelled; a pass that fails is
    logged and tried again at the next one (nothing depends on it being done)."""
    while True:
        try:
            await tidy(journal, store)
        except Exception as exc:  # housekeeping must not end: the next pass may succeed
            log.warning("journal housekeeping failed, trying again in %.0fs: %r", interval, exc)
        await asyncio.sleep(interval)
