"""How many entities the graph holds, by record status, for ``mds status``.

Counting walks the status index (every entity: 0.7-2.2 s at 100k on a busy 2-core
machine), so it is done once; after that each transaction moves the counts by the entities
it touched, read from the log: their status before and after. A count runs on a thread,
never on the event loop, and once per transaction: callers that arrive together share it,
and it stays good until the next transaction. The view counted is the latest valid time,
which only a transaction changes, so moved counts equal a full count.
"""

from __future__ import annotations

import asyncio

from mdsd import facts as F
from store import Db, FactStore

STATUSES = (F.STATUS_RESOLVED, F.STATUS_STUB, F.STATUS_DELETED)

#: when more than one in this many of the entities counted were touched since the last
#: count (a bulk load), counting them all again costs less than reading each one's status
#: twice: at 100k, moving 3,000 took 270 ms, 300 took 70, a full count 340-590
RECOUNT_SHARE = 20


def count(db: Db) -> dict[str, int]:
    """Entities by record status in the view ``db``."""
    return {status: len(db.lookup(F.STATUS, status)) for status in STATUSES}


def moved(before: Db, after: Db, counts: dict[str, int]) -> dict[str, int] | None:
    """``counts`` (of the view ``before``) moved to the later view ``after`` by the
    entities the transactions between them touched; None when they touched more than one
    in ``RECOUNT_SHARE`` of those counted (count again)."""
    most = sum(counts.values()) // RECOUNT_SHARE
    touched: set[int] = set()
    for report in after.store.log(before.basis_tx + 1, after.basis_tx + 1):
        touched |= report.entities
        if len(touched) > most:
            return None
    now = dict(counts)
    for e in touched:
        was, is_ = before.get(e, F.STATUS), after.get(e, F.STATUS)
        if was != is_:
            if was in now:
                now[was] -= 1
            if is_ in now:
                now[is_] += 1
    return now


class EntityCounts:
    """The counts of the store's latest transaction, computed at most once per transaction."""

    def __init__(self, store: FactStore) -> None:
        self.store = store
        self._lock = asyncio.Lock()
        self._tx = -1
        self._counts: dict[str, int] = {}
        #: the view ``_counts`` are of
        self._db: Db | None = None

    async def latest(self) -> dict[str, int]:
        async with self._lock:
            if self._tx != self.store.last_tx:
                db = self.store.db()
                counts = None
                if self._db is not None:
                    counts = await asyncio.to_thread(moved, self._db, db, self._counts)
                if counts is None:
                    counts = await asyncio.to_thread(count, db)
                self._counts, self._db, self._tx = counts, db, db.basis_tx
            return self._counts
