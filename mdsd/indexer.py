"""Keeps the search indexes in step with the fact store.

Writes mark entities dirty; a flush builds their documents from the current db and
commits, recording the last transaction indexed. On start the index catches up from the
log (or is rebuilt when missing), so it is always derivable from the facts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from mdsd import facts as F
from mdsd.model import EntityType, Rel
from mdsd.search import SearchDoc, SearchIndex
from store import Db, FactStore, TxReport

log = logging.getLogger(__name__)

OWNER_TYPES = {str(EntityType.USER), str(EntityType.TEAM)}
#: how many referrers to re-index when a name changes (their "related names" and owner
#: names mention it); beyond this the next full reindex catches up
MAX_REFERRERS = 2000


class Indexer:
    def __init__(self, store: FactStore, main: SearchIndex, owners: SearchIndex) -> None:
        self.store = store
        self.main = main
        self.owners = owners
        self._dirty: set[int] = set()

    # -- marking ----------------------------------------------------------------------------

    def note(self, report: TxReport) -> None:
        """Mark what a transaction touched, and referrers of entities whose name changed."""
        db = self.store.db()
        for datom in report.datoms:
            self._dirty.add(datom.e)
            if datom.a == F.NAME and datom.added:
                self._dirty.update(src for _, src in db.refs_in(datom.e)[:MAX_REFERRERS])

    @property
    def behind(self) -> bool:
        return bool(self._dirty)

    # -- flushing ---------------------------------------------------------------------------

    def flush(self) -> int:
        """Index every dirty entity as the store says now; returns how many."""
        if not self._dirty:
            return 0
        dirty, self._dirty = self._dirty, set()
        db = self.store.db()
        self._index(db, dirty)
        self.main.commit(db.basis_tx)
        self.owners.commit(db.basis_tx)
        return len(dirty)

    def _index(self, db: Db, entities: Iterable[int]) -> None:
        docs: list[SearchDoc] = []
        owner_docs: list[SearchDoc] = []
        gone: list[str] = []
        for e in entities:
            doc = document(db, e)
            if doc is None:
                xid = db.xid(e)
                if xid:
                    gone.append(xid)
                continue
            docs.append(doc)
            if doc.entity_type in OWNER_TYPES:
                owner_docs.append(doc)
        if gone:
            self.main.delete(gone)
            self.owners.delete(gone)
        self.main.upsert(docs)
        self.owners.upsert(owner_docs)

    async def run(self, interval_seconds: float) -> None:
        """Flush periodically; searches see writes within one interval."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                self.flush()
            except Exception:  # a bad document must not stop indexing for good
                log.exception("search indexing failed; will retry")

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
        db = self.store.db()
        count = 0
        batch: list[int] = []
        for e, _ in db.entities_with(F.TYPE):
            batch.append(e)
            if len(batch) >= 5000:
                self._index(db, batch)
                count += len(batch)
                batch = []
        self._index(db, batch)
        count += len(batch)
        self.main.commit(db.basis_tx)
        self.owners.commit(db.basis_tx)
        self._dirty.clear()
        return count


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
        status=entity.get(F.STATUS) or F.STATUS_STUB,
    )
