"""Search answers: ranked hits from the search index, each shaped from a view of the facts.

The index ranks; the facts say what each hit is as of the view asked about (its owners,
tags and status). REST's ``/v1/search`` and ``/v1/owners/search`` and GraphQL's ``search``
all answer through ``Search``, so they never disagree about which entities match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mds.wire import JSON
from mdsd import facts as F
from mdsd.index.search import MAX_SEARCH_LIMIT, SearchHit, Searching
from mdsd.reads.views import describe
from store import Db, FactStore

#: how many times the page a search of the past first asks the index for
PAST_WINDOW = 4


class Search:
    """Searches of the main index (names, descriptions, tags...) or of the owners' index."""

    def __init__(self, store: FactStore, main: Searching, owners: Searching) -> None:
        self.store = store
        self.main = main
        self.owners = owners

    def __call__(
        self,
        query: str,
        *,
        entity_type: str | None = None,
        limit: int = 20,
        owners: bool = False,
        db: Db | None = None,
    ) -> JSON:
        """Ranked hits, each with owners and tags as of the view ``db`` (default: now).

        A blank query lists everything, as ``*`` does (``kubectl get``). The index holds
        the present, so a view of the past (a valid time, or what mds knew then) also asks
        it for entities deleted since and keeps the hits that existed, undeleted, then
        (their names as they are now)."""
        db = db or self.store.db()
        index = self.owners if owners else self.main
        text = query if query.strip() else "*"
        if db.is_current:
            hits = index.hits(text, entity_type=entity_type, limit=limit)
            return {"results": self._there(db, hits, limit), "as_of": describe(db)}
        # The past keeps fewer of the index's hits: ask for a few times the page first, and
        # for all the index may give only when that window did not fill it.
        window = min(PAST_WINDOW * limit, MAX_SEARCH_LIMIT)
        while True:
            hits = index.hits(text, entity_type=entity_type, limit=window, include_deleted=True)
            results = self._there(db, hits, limit)
            if len(results) == limit or len(hits) < window or window == MAX_SEARCH_LIMIT:
                return {"results": results, "as_of": describe(db)}
            window = MAX_SEARCH_LIMIT

    @staticmethod
    def _there(db: Db, hits: Iterable[SearchHit], limit: int) -> list[JSON]:
        """The first ``limit`` hits that exist, undeleted, in the view ``db`` (the index
        reads no hit past them)."""
        results: list[JSON] = []
        for hit in hits:
            e = db.entid(hit.id)
            if e is None:
                continue  # not there at the moment asked about
            entity = db.entity(e)
            if entity.get(F.STATUS) == F.STATUS_DELETED:
                continue
            results.append(shaped(db, hit, entity))
            if len(results) == limit:
                break
        return results


def shaped(db: Db, hit: SearchHit, entity: dict[str, Any]) -> JSON:
    """One hit as the API answers it: the index's ranking, the view's facts."""
    owner_ids = entity.get(F.rel_attr("owned_by"), [])
    return {
        "id": hit.id,
        "entity_type": entity.get(F.TYPE, hit.entity_type),
        "name": entity.get(F.NAME, hit.name),
        "score": hit.score,
        "match": hit.match,
        "status": entity.get(F.STATUS, hit.status),
        "description": entity.get(F.DESCRIPTION),
        "owners": [{"id": db.xid(o), "name": db.get(o, F.NAME)} for o in owner_ids],
        "tags": entity.get(F.TAGS, []),
        "highlights": hit.highlights,
    }
