"""The records of every source, as the hydration API serves them, and their bookkeeping.

Records are plain dicts that are exactly the JSON the sources' hydration API returns, so
serving one is a dict lookup plus a cached ``json.dumps``. A record is never modified in
place: every change replaces it with a new dict (and replaces any nested list it changes),
so a snapshot taken by ``truth()`` or a cached rendering can never see a half-applied change.
"""

from __future__ import annotations

import base64
import bisect
import json
import random
from collections.abc import Iterator
from typing import Any

from simulator.clock import EPOCH, rfc3339

__all__ = [
    "COLLECTIONS",
    "EVENT_ID_FIELD",
    "KEY_FIELD",
    "SOURCE_COLLECTIONS",
    "Event",
    "Pool",
    "Record",
    "Records",
]

Record = dict[str, Any]
#: a thin event (flat strings), or an OpenLineage run event (``simulator.lineage``)
Event = dict[str, Any]

#: the collections the sources list, in the order the initial events announce them
COLLECTIONS = (
    "teams", "users", "datasets", "features", "pipelines", "pipeline-runs", "models",
    "instances", "tests",
)  # fmt: skip

#: source key -> the collections it serves
SOURCE_COLLECTIONS: dict[str, tuple[str, ...]] = {
    "registry": ("models", "instances"),
    "orchestrator": ("pipelines", "pipeline-runs"),
    "featurestore": ("features",),
    "experiments": ("tests",),
    "datasets": ("datasets",),
    "identity": ("users", "teams"),
}

#: the record field holding a collection's native id
KEY_FIELD: dict[str, str] = {c: "id" for c in COLLECTIONS} | {
    "pipeline-runs": "run_id",
    "tests": "test_id",
}

#: the event id field naming an entity of each collection
EVENT_ID_FIELD: dict[str, str] = {
    "models": "model_id",
    "instances": "instance_id",
    "pipelines": "pipeline_id",
    "pipeline-runs": "run_id",
    "features": "feature_id",
    "tests": "test_id",
    "datasets": "dataset_id",
    "users": "user_id",
    "teams": "team_id",
}

_EVENT_PREFIX: dict[str, str] = {
    "models": "model",
    "instances": "model_instance",
    "pipelines": "pipeline",
    "features": "feature",
    "tests": "ab_test",
    "datasets": "dataset",
}
_RUN_EVENT = {
    "running": "pipeline_run_started",
    "succeeded": "pipeline_run_completed",
    "failed": "pipeline_run_failed",
}
#: collections whose records carry no ``updated_at``; the world stamps them on the side
_UNSTAMPED = frozenset({"pipeline-runs", "users", "teams"})

#: pools the mutations pick from, beyond one per collection
SPECIAL_POOLS = ("running", "staged", "retired", "draft", "active", "in-cells", "raw")


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except ValueError as exc:
        raise ValueError(f"invalid page_token {token!r}") from exc


class Pool:
    """A set with O(1) add, discard and uniform random choice, for picking what to change."""

    __slots__ = ("_exempt", "_index", "_items")

    def __init__(self) -> None:
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._exempt: set[str] = set()

    def add(self, item: str) -> None:
        if item not in self._index and item not in self._exempt:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        i = self._index.pop(item, None)
        if i is None:
            return
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._index[last] = i

    def exempt(self, item: str) -> None:
        """Never hold ``item`` again, so the change this pool feeds never touches it."""
        self.discard(item)
        self._exempt.add(item)

    def choice(self, rng: random.Random) -> str | None:
        return rng.choice(self._items) if self._items else None

    def __len__(self) -> int:
        return len(self._items)


class Records:
    """Every source's records, the clock, and the pools of ids that changes pick from.

    Reads are what the simulated sources serve (one record, its rendering, a listing
    page) and the ground truth tests compare the daemon against; ``_put``, ``_update`` and
    ``_delete`` are the only writes, which keep stamps, listings and renderings in step.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        #: drives generation and every detail of a change (names, sizes, outcomes)
        self.rng = random.Random(seed)
        #: the world's clock (Unix seconds); mutations advance it, so it is deterministic
        self.now = EPOCH
        self._records: dict[str, dict[str, Record]] = {c: {} for c in COLLECTIONS}
        self._stamps: dict[str, dict[str, str]] = {c: {} for c in _UNSTAMPED}
        self._deleted: dict[str, list[str]] = {c: [] for c in COLLECTIONS}
        #: a deleted A/B test's cell numbers: its cells went with it
        self._deleted_cells: dict[str, list[int]] = {}
        self._taken: dict[str, set[str]] = {c: set() for c in COLLECTIONS}
        self._sorted: dict[str, list[str]] = {}
        self._rendered: dict[tuple[str, str], bytes] = {}
        self.pools: dict[str, Pool] = {name: Pool() for name in (*COLLECTIONS, *SPECIAL_POOLS)}

    # ---------------------------------------------------------------- reading

    def get(self, collection: str, native_id: str) -> Record | None:
        """The record as the hydration API returns it (do not modify), or None if absent."""
        return self._records[collection].get(native_id)

    def record(self, collection: str, native_id: str) -> Record:
        """The record of an entity known to exist (do not modify); KeyError otherwise."""
        return self._records[collection][native_id]

    def render(self, collection: str, native_id: str) -> bytes | None:
        """The record's JSON bytes, rendered once per change."""
        key = (collection, native_id)
        body = self._rendered.get(key)
        if body is None:
            record = self._records[collection].get(native_id)
            if record is None:
                return None
            body = self._rendered[key] = json.dumps(record, separators=(",", ":")).encode()
        return body

    def updated_at(self, collection: str, native_id: str) -> str:
        """When the record last changed (its ``updated_at``, or the world's side stamp)."""
        if collection in _UNSTAMPED:
            return self._stamps[collection][native_id]
        return str(self._records[collection][native_id]["updated_at"])

    def page(
        self, collection: str, limit: int, page_token: str | None = None
    ) -> tuple[list[dict[str, str]], str | None]:
        """One listing page, ordered by id; the token is the last id seen (keyset paging).

        Every id that exists for the whole walk is listed exactly once however the world
        changes in between; ids created or deleted meanwhile may or may not appear.
        """
        ids = self._sorted_ids(collection)
        start = bisect.bisect_right(ids, _decode_token(page_token)) if page_token else 0
        chunk = ids[start : start + limit]
        items = [{"id": i, "updated_at": self.updated_at(collection, i)} for i in chunk]
        more = bool(chunk) and start + limit < len(ids)
        return items, _encode_token(chunk[-1]) if more else None

    def counts(self) -> dict[str, int]:
        """Live records per collection, plus the parts the daemon also counts as entities."""
        counts = {c: len(self._records[c]) for c in COLLECTIONS}
        counts["dataset-versions"] = sum(
            len(d["versions"]) for d in self._records["datasets"].values()
        )
        counts["ab-test-cells"] = sum(len(t["cells"]) for t in self._records["tests"].values())
        return counts

    def entity_count(self) -> int:
        return sum(self.counts().values())

    def truth(self) -> dict[str, Any]:
        """The ground truth: ``{"collections": {collection: {id: record}}, "deleted":
        {collection: [ids]}, "deleted_cells": {test id: [cell numbers]}}``, a snapshot that
        later changes do not affect.

        Cheap at any size: the containers are fresh, the records are shared, which is safe
        because the world never modifies a record in place. Do not modify them either.
        """
        return {
            "collections": {c: dict(records) for c, records in self._records.items()},
            "deleted": {c: list(ids) for c, ids in self._deleted.items()},
            "deleted_cells": {test: list(cells) for test, cells in self._deleted_cells.items()},
        }

    def event(self, collection: str, native_id: str, action: str = "updated") -> Event:
        """The thin event announcing that an entity was created, updated or deleted."""
        if collection == "pipeline-runs":
            event_type = _RUN_EVENT[self._records[collection][native_id]["status"]]
        elif collection in ("users", "teams"):
            event_type = f"{collection[:-1]}_updated"  # identity only announces updates
        else:
            event_type = f"{_EVENT_PREFIX[collection]}_{action}"
        return {"event_type": event_type, EVENT_ID_FIELD[collection]: native_id}

    def initial_events(self) -> Iterator[Event]:
        """One event per live entity: a daemon fed these hydrates the whole world."""
        for collection in COLLECTIONS:
            for native_id in list(self._records[collection]):
                yield self.event(collection, native_id, "created")

    def _unique(self, collection: str, base: str) -> str:
        taken = self._taken[collection]
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        return candidate

    def _stamp(self, collection: str, native_id: str, record: Record, at: int) -> None:
        if collection in _UNSTAMPED:
            self._stamps[collection][native_id] = rfc3339(at)
        else:
            record["updated_at"] = rfc3339(at)

    def _put(self, collection: str, record: Record, at: int) -> str:
        native_id = record[KEY_FIELD[collection]]
        self._stamp(collection, native_id, record, at)
        self._records[collection][native_id] = record
        self.pools[collection].add(native_id)
        if (ids := self._sorted.get(collection)) is not None:
            bisect.insort(ids, native_id)
        return str(native_id)

    def _update(self, collection: str, native_id: str, at: int, **changes: Any) -> Record:
        record = {**self._records[collection][native_id], **changes}
        self._stamp(collection, native_id, record, at)
        self._records[collection][native_id] = record
        self._rendered.pop((collection, native_id), None)
        return record

    def _delete(self, collection: str, native_id: str) -> None:
        if collection == "tests":
            cells = self._records[collection][native_id].get("cells") or []
            self._deleted_cells[native_id] = [cell["cell_number"] for cell in cells]
        del self._records[collection][native_id]
        self._stamps.get(collection, {}).pop(native_id, None)
        self._rendered.pop((collection, native_id), None)
        self._deleted[collection].append(native_id)
        self.pools[collection].discard(native_id)
        if (ids := self._sorted.get(collection)) is not None:
            del ids[bisect.bisect_left(ids, native_id)]

    def _sorted_ids(self, collection: str) -> list[str]:
        ids = self._sorted.get(collection)
        if ids is None:  # built on first listing, then kept sorted as ids come and go
            ids = self._sorted[collection] = sorted(self._records[collection])
        return ids
