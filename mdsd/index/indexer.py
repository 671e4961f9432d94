"""Keeps the search indexes in step with the fact store.

Writes mark entities dirty; a flush builds their documents from the current db and
commits, recording the last transaction indexed. On start the index catches up from the
log (or is rebuilt when missing), so it is always derivable from the facts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from mds.wire.model import EntityType, Rel
from mdsd import facts as F
from mdsd.base.faults import StorageFault, storage_fault
from mdsd.base.pacing import paced
from mdsd.base.storage import StorageHealth
from mdsd.index.schema import SearchDoc
from mdsd.index.search import SearchIndex
from store import Db, FactStore, TxReport

log = logging.getLogger(__name__)

OWNER_TYPES = {str(EntityType.USER), str(EntityType.TEAM)}
#: how many referrers to re-index when a name changes (their "related names" and owner
#: names mention it); beyond this the next full reindex catches up
MAX_REFERRERS = 2000


@dataclass(slots=True)
class _Batch:
    basis_tx: int
    docs: list[SearchDoc] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


class Indexer:
    def __init__(
        self,
        store: FactStore,
        main: SearchIndex,
        owners: SearchIndex,
        storage: StorageHealth | None = None,
    ) -> None:
        """``storage``: told of a fault of the indexes' disk, which then pauses indexing;
        it takes new index writers once the fault clears."""
        self.store = store
        self.main = main
        self.owners = owners
        self.storage = storage or StorageHealth(None)
        self.storage.add_recovery("search", self._recover)
        self._dirty: set[int] = set()
        self._commit_lock = asyncio.Lock()
        self._flush_now = asyncio.Event()

    # -- marking ----------------------------------------------------------------------------

    def note(self, report: TxReport) -> None:
        """Mark what a transaction touched, and referrers of entities whose name changed."""
        db = self.store.db()
        for datom in report.datoms:
            self._dirty.add(datom.e)
            if datom.a == F.NAME and datom.added:
                self._dirty.update(src for _, src in db.refs_in(datom.e)[:MAX_REFERRERS])

    @property
    def commits(self) -> asyncio.Lock:
        """Held while the indexes commit: whoever holds it keeps them still (a backup)."""
        return self._commit_lock

    @property
    def behind(self) -> bool:
        """Whether some committed fact is not yet searchable."""
        return bool(self._dirty) or self._commit_lock.locked()

    async def drain(self) -> None:
        """Wait for a background commit, then index what is left (at shutdown)."""
        async with self._commit_lock:
            self.flush()

    # -- flushing ---------------------------------------------------------------------------

    def flush(self) -> int:
        """Index every dirty entity as the store says now; returns how many."""
        batch = self._take()
        if batch is not None:
            self._apply(batch)
        return 0 if batch is None else len(batch.docs) + len(batch.gone)

    async def flush_in_background(self) -> int:
        """As ``flush``, without holding the event loop: the documents are built in steps
        that let queries and writes through, and the index commit (fsyncs, ~100 ms) runs in
        a thread. Built in one go, a second's worth of a backfill (hundreds of documents,
        thousands when a popular entity's name changes) held the loop for 100-190 ms."""
        async with self._commit_lock:  # held while building too: ``behind`` stays true
            if not self._dirty:
                return 0
            dirty, self._dirty = self._dirty, set()
            try:
                db = self.store.db()  # one pinned view: later writes do not leak into it
                batch = _Batch(db.basis_tx)
                async for e in paced(dirty):
                    self._add(batch, db, e)
                await asyncio.to_thread(self._apply, batch)
            except Exception as exc:
                if storage_fault(exc) is not None:  # not indexed: tried again on resuming
                    self._dirty |= dirty
                raise
        return len(batch.docs) + len(batch.gone)

    def _take(self) -> _Batch | None:
        """Documents for the dirty entities, read from one view on the calling thread."""
        if not self._dirty:
            return None
        dirty, self._dirty = self._dirty, set()
        db = self.store.db()
        batch = _Batch(db.basis_tx)
        for e in dirty:
            self._add(batch, db, e)
        return batch

    @staticmethod
    def _add(batch: _Batch, db: Db, e: int) -> None:
        doc = document(db, e)
        if doc is not None:
            batch.docs.append(doc)
        elif xid := db.xid(e):
            batch.gone.append(xid)

    def _apply(self, batch: _Batch) -> None:
        owners = [d for d in batch.docs if d.entity_type in OWNER_TYPES]
        if batch.gone:
            self.main.delete(batch.gone)
            self.owners.delete(batch.gone)
        self.main.upsert(batch.docs)
        self.owners.upsert(owners)
        self.main.commit(batch.basis_tx)
        self.owners.commit(batch.basis_tx)

    def flush_soon(self) -> None:
        """Commit without waiting for the rest of the interval (someone waits on the index)."""
        self._flush_now.set()

    async def run(self, interval_seconds: float) -> None:
        """Flush periodically; searches see writes within about one interval.

        Each commit has a fixed cost (a segment, its fsyncs, a reader reload), so the
        interval trades freshness for CPU: during a backfill, committing every 1 s
        (Elasticsearch's refresh interval) instead of every 200 ms saved 0.16 ms of CPU per
        event. Whoever needs the index current now (``wait --idle``) calls ``flush_soon``."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_seconds):
                    await self._flush_now.wait()
            self._flush_now.clear()
            try:
                with self.storage.watch("indexing"):
                    await self.flush_in_background()
            except StorageFault:
                await self.storage.wait_ok()  # paused; its writers are new when it resumes
            except Exception:  # a bad document must not stop indexing for good
                log.exception("search indexing failed; will retry")

    def _recover(self) -> None:
        self.main.recover()
        self.owners.recover()

    # -- catching up ------------------------------------------------------------------------

    def catch_up(self) -> str:
        """Bring the indexes up to the store's last tx; rebuild if missing or inconsistent."""
        last = self.store.last_tx
        main_tx, owners_tx = self.main.indexed_tx, self.owners.indexed_tx
        if main_tx is None or owners_tx is None or main_tx > last or owners_tx > last:
            return f"rebuilt {self.rebuild()} entities"
        start = min(main_tx, owners_tx)
        if start == last:
            return "up to date"
        for report in self.store.log(start + 1):
            self.note(report)
        return f"caught up {self.flush()} entities from tx {start + 1} to {last}"

    def rebuild(self) -> int:
        """Clear both indexes and index every entity from the facts."""
        self.main.clear()
        self.owners.clear()
        self._dirty = {e for e, _ in self.store.db().entities_with(F.TYPE)}
        return self.flush()


def document(db: Db, e: int) -> SearchDoc | None:
    """The search document of an entity, or None if it has no type (not one of ours)."""
    entity = db.entity(e)
    entity_type = entity.get(F.TYPE)
    xid = entity.get("db/xid")
    if entity_type is None or xid is None:
        return None
    owners = entity.get(F.rel_attr(Rel.OWNED_BY), [])
    owner_ids = [db.xid(o) or "" for o in owners]
    owner_names = [db.get(o, F.NAME) or "" for o in owners]
    related: list[str] = []
    for attr, value in entity.items():
        if attr.startswith(F.REL_PREFIX) and attr != F.rel_attr(Rel.OWNED_BY):
            related += [db.get(v, F.NAME) or "" for v in value[:20]]
    tags = [
        f"{t['tag']}={t['value']}" if t.get("value") else t["tag"] for t in entity.get(F.TAGS, [])
    ]
    return SearchDoc(
        id=xid,
        entity_type=entity_type,
        name=entity.get(F.NAME) or xid,
        description=entity.get(F.DESCRIPTION) or "",
        owners=[o for o in owner_ids if o],
        owner_names=[n for n in owner_names if n],
        tags=tags,
        related_names=[n for n in related if n],
        status=entity.get(F.STATUS, F.STATUS_STUB),
    )
