"""How many entities the graph holds, by record status, for ``mds status``.

Counting walks the status index (every entity), so it runs on a thread, never on the
event loop, and once per transaction: callers that arrive together share one count, and
a count stays good until the next transaction.
"""

from __future__ import annotations

import asyncio

from mdsd import facts as F
from store import Db, FactStore

STATUSES = (F.STATUS_RESOLVED, F.STATUS_STUB, F.STATUS_DELETED)


def count(db: Db) -> dict[str, int]:
    """Entities by record status in the view ``db``."""
    return {status: len(db.lookup(F.STATUS, status)) for status in STATUSES}


class EntityCounts:
    """The counts of the store's latest transaction, computed at most once per transaction."""

    def __init__(self, store: FactStore) -> None:
        self.store = store
        self._lock = asyncio.Lock()
        self._tx = -1
        self._counts: dict[str, int] = {}

    async def latest(self) -> dict[str, int]:
        async with self._lock:
            if self._tx != self.store.last_tx:
                db = self.store.db()
                self._counts = await asyncio.to_thread(count, db)
                self._tx = db.basis_tx
            return self._counts
