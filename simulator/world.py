"""The generated organisation the simulator serves: records, the operations that change them.

Records are plain dicts that are exactly the JSON the hydration API returns (contract 1.2),
so serving one is a dict lookup plus a cached ``json.dumps``. A record is never modified in
place: every change replaces it with a new dict (and replaces any nested list it changes), so
a snapshot taken by ``truth()`` or a cached rendering can never see a half-applied change.

The same operations (``start_run``, ``finish_run``, ``promote``, ...) build the generated
history (``simulator.generate``) and drive the living world (``simulator.mutations``): what
a fresh world looks like and how it changes cannot drift apart. Creators return the new id;
transitions return the thin events (contract 1.1) they imply.
"""

from __future__ import annotations

import base64
import bisect
import calendar
import functools
import gc
import json
import random
import time
from collections.abc import Iterator
from typing import Any

from simulator.vocab import (
    CADENCES,
    DERIVATIONS,
    DOMAINS,
    FEATURE_ENTITIES,
    FEATURE_SIGNALS,
    FEATURE_WINDOWS,
    FIRST_NAMES,
    FRAMEWORKS,
    HYPOTHESES,
    LAST_NAMES,
    MODEL_TASKS,
    RAW_EVENTS,
    SCHEDULE_OF_CADENCE,
    TEAM_FOCUS,
    TIERS,
    TREATMENT_NAMES,
)

Record = dict[str, Any]
Event = dict[str, str]

#: listing collections of contract 1.2, in the order the initial events announce them
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

DAY = 86_400
#: where the mutation clock starts; generated history lies before it. Six hours into
#: 2025-01-01, so the reference slice's runs of that day (``simulator.reference``) are history
EPOCH = calendar.timegm((2025, 1, 1, 6, 0, 0))

_ETL_NODES = (
    {"name": "extract", "depends_on": []},
    {"name": "transform", "depends_on": ["extract"]},
    {"name": "validate", "depends_on": ["transform"]},
    {"name": "load", "depends_on": ["validate"]},
)
_TRAIN_NODES = (
    {"name": "prepare-data", "depends_on": []},
    {"name": "compute-features", "depends_on": []},
    {"name": "train", "depends_on": ["prepare-data", "compute-features"]},
    {"name": "evaluate", "depends_on": ["train"]},
    {"name": "register", "depends_on": ["evaluate"]},
)


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


@functools.lru_cache(maxsize=DAY)
def _clock(second_of_day: int) -> str:
    h, rest = divmod(second_of_day, 3600)
    return f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"


def day_of(t: int) -> str:
    """``YYYY-MM-DD`` of a Unix time."""
    return _date(t // DAY)


def rfc3339(t: int) -> str:
    """A Unix time as RFC 3339 with ``Z``, second precision. Dates and clock times are
    cached: generating a million entities formats millions of timestamps."""
    day, second = divmod(t, DAY)
    return f"{_date(day)}T{_clock(second)}Z"


def _compact(t: int) -> str:
    return day_of(t).replace("-", "")


def _title(slug: str) -> str:
    return " ".join(word.capitalize() for word in slug.split("-"))


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


class World:
    """The organisation: every source's records, the clock, and the operations that change them.

    ``World.generate(size, seed)`` builds one; ``mutate()`` changes it one realistic step at a
    time; ``truth()`` is the ground truth tests compare the daemon against. Not thread-safe:
    the simulator changes and serves it from one event loop.
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
        self._taken: dict[str, set[str]] = {c: set() for c in COLLECTIONS}
        self._sorted: dict[str, list[str]] = {}
        self._rendered: dict[tuple[str, str], bytes] = {}
        self.pools: dict[str, Pool] = {name: Pool() for name in (*COLLECTIONS, *SPECIAL_POOLS)}
        # domain facts the records do not spell out
        self._domain: dict[str, str] = {}  # team -> business domain
        self._stem: dict[str, str] = {}  # dataset -> the raw dataset its name derives from
        self._emails: dict[str, str] = {}  # email -> user id
        self._latest: dict[str, str] = {}  # dataset -> its latest version
        self._run_prefix: dict[str, str] = {}  # pipeline -> run id prefix
        self._reads: dict[str, list[str]] = {}  # pipeline -> datasets its runs read
        self._trainer: dict[str, str] = {}  # model -> training pipeline
        self._model_of: dict[str, str] = {}  # training pipeline -> model
        self._features_of: dict[str, list[str]] = {}  # model -> features it trains on
        self._next_version: dict[str, int] = {}  # model -> next instance version number
        self._tested_model: dict[str, str] = {}  # test -> model it compares
        self._last_test_number = 10_000

    @classmethod
    def generate(cls, size: int = 1000, seed: int = 0) -> World:
        """A world of about ``size`` entities (records, dataset versions and test cells)."""
        from simulator.generate import populate

        world = cls(seed)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # generation only allocates; cycle scans would triple its time
        try:
            populate(world, size)
        finally:
            if gc_was_enabled:
                gc.enable()
        return world

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

    def users_with_email(self, email: str) -> list[Record]:
        user_id = self._emails.get(email)
        return [self._records["users"][user_id]] if user_id is not None else []

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
        {collection: [ids]}}``, a snapshot that later changes do not affect.

        Cheap at any size: the containers are fresh, the records are shared, which is safe
        because the world never modifies a record in place. Do not modify them either.
        """
        return {
            "collections": {c: dict(records) for c, records in self._records.items()},
            "deleted": {c: list(ids) for c, ids in self._deleted.items()},
        }

    def truth_json(self) -> bytes:
        """``truth()`` as JSON."""
        return json.dumps(
            {"collections": self._records, "deleted": self._deleted}, separators=(",", ":")
        ).encode()

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

    def instances_of(self, model_id: str) -> list[str]:
        return list(self._records["models"][model_id]["instance_ids"])

    def trainer_of(self, model_id: str) -> str:
        return self._trainer[model_id]

    def model_tested_by(self, test_id: str) -> str:
        return self._tested_model[test_id]

    # ---------------------------------------------------------------- changing

    def mutate(self, rng: random.Random | None = None) -> list[Event]:
        """Advance the clock and apply one realistic change; the events it implies.

        ``rng`` picks which change and what it touches (the world's own by default).
        """
        from simulator.mutations import apply_one

        rng = rng or self.rng
        self.now += rng.randint(30, 600)
        return apply_one(self, rng, self.now)

    def mutate_many(self, n: int) -> list[Event]:
        """``n`` mutations; all their events, in order."""
        return [event for _ in range(n) for event in self.mutate()]

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

    def _owners(self, team_id: str) -> list[str]:
        members = self._records["teams"][team_id]["member_ids"]
        if not members:
            return []
        chosen = self.rng.sample(members, k=min(len(members), self.rng.choice((1, 1, 2))))
        return [f"{user_id}@example.com" for user_id in chosen]

    def _labels(self, team_id: str, **extra: str) -> list[dict[str, str]]:
        """A tier, the owning team (as platforms tag it: ``tag:team=...``) and ``extra``."""
        pairs = {"tier": self.rng.choice(TIERS), "team": team_id, **extra}
        return [{"key": k, "value": v} for k, v in pairs.items()]

    def _latest_versions(self, dataset_ids: list[str]) -> list[dict[str, str]]:
        latest = self._latest
        return [{"dataset_id": d, "version": latest[d]} for d in dataset_ids if d in latest]

    # identity

    def new_team(self, at: int) -> str:
        rng = self.rng
        n = len(self._records["teams"])
        domain = DOMAINS[n] if n < len(DOMAINS) else rng.choice(DOMAINS)
        base = domain if n < len(DOMAINS) else f"{domain}-{rng.choice(TEAM_FOCUS)}"
        team_id = self._unique("teams", base)
        self._domain[team_id] = domain
        return self._put("teams", {"id": team_id, "name": _title(team_id), "member_ids": []}, at)

    def new_user(self, at: int, team_ids: list[str], name: tuple[str, str] | None = None) -> str:
        """A member of ``team_ids``; ``name`` (first, last) is drawn unless given."""
        rng = self.rng
        first, last = name or (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        base = first if first not in self._taken["users"] else f"{first}{last}"
        user_id = self._unique("users", base)
        email = f"{user_id}@example.com"
        record = {
            "id": user_id,
            "name": f"{first.capitalize()} {last.capitalize()}",
            "email": email,
            "team_ids": list(team_ids),
        }
        self._emails[email] = user_id
        for team_id in team_ids:
            members = self._records["teams"][team_id]["member_ids"]
            self._update("teams", team_id, at, member_ids=[*members, user_id])
        return self._put("users", record, at)

    def move_user(self, user_id: str, to_team: str, at: int) -> list[Event]:
        """The user leaves their first team for ``to_team``."""
        teams = self._records["teams"]
        user = self._records["users"][user_id]
        from_team = user["team_ids"][0]
        team_ids = [to_team if t == from_team else t for t in user["team_ids"]]
        self._update("users", user_id, at, team_ids=list(dict.fromkeys(team_ids)))
        leaving = [m for m in teams[from_team]["member_ids"] if m != user_id]
        self._update("teams", from_team, at, member_ids=leaving)
        if user_id not in teams[to_team]["member_ids"]:
            self._update("teams", to_team, at, member_ids=[*teams[to_team]["member_ids"], user_id])
        return [
            self.event("users", user_id),
            self.event("teams", from_team),
            self.event("teams", to_team),
        ]

    # datasets

    def new_dataset(
        self, at: int, team_id: str, upstream_ids: list[str], native_id: str | None = None
    ) -> str:
        """A raw dataset, or one derived from ``upstream_ids``; named after them unless
        ``native_id`` names it (datasets derived from it are then named after it)."""
        rng = self.rng
        if upstream_ids:
            derivation = rng.choice(DERIVATIONS)
            stem = native_id or self._stem[upstream_ids[0]]
            base = native_id or f"{stem}-{derivation}"
            description = f"{derivation.capitalize()} view of {', '.join(upstream_ids)}."
        else:
            stem = base = native_id or f"{self._domain[team_id]}-{rng.choice(RAW_EVENTS)}"
            description = f"Raw {base} as emitted by production services, one partition a day."
        dataset_id = self._unique("datasets", base)
        self._stem[dataset_id] = stem
        record = {
            "id": dataset_id,
            "name": dataset_id,
            "description": description,
            "owner_emails": self._owners(team_id),
            "labels": self._labels(team_id, contains_pii=rng.choice(("true", "false"))),
            "upstream_dataset_ids": list(upstream_ids),
            "versions": [],
            "created_at": rfc3339(at),
        }
        if not upstream_ids:
            self.pools["raw"].add(dataset_id)
        return self._put("datasets", record, at)

    def add_version(self, dataset_id: str, at: int) -> Event:
        """A new dataset version (a partition landed): named by its date, unique per dataset."""
        versions = self._records["datasets"][dataset_id]["versions"]
        label = day_of(at)
        same_day = sum(1 for v in versions[-3:] if v["version"].startswith(label))
        if same_day:
            label = f"{label}.{same_day + 1}"
        row_count = int(10 ** self.rng.uniform(3, 9))
        entry = {"version": label, "created_at": rfc3339(at), "row_count": row_count}
        self._update("datasets", dataset_id, at, versions=[*versions, entry])
        self._latest[dataset_id] = label
        return {"event_type": "dataset_version_created", "dataset_id": dataset_id, "version": label}

    # features

    def new_feature(
        self,
        at: int,
        team_id: str,
        source_ids: list[str],
        what: tuple[str, str, str] | None = None,
    ) -> str:
        """A feature computed from ``source_ids``: ``what`` (signal, window, entity) is drawn
        unless given; it is named ``{signal}-{window}``, prefixed if that is taken."""
        rng = self.rng
        signal, window, entity = what or (
            rng.choice(FEATURE_SIGNALS),
            rng.choice(FEATURE_WINDOWS),
            rng.choice(FEATURE_ENTITIES),
        )
        base = f"{signal}-{window}"
        if base in self._taken["features"]:
            base = f"{self._domain[team_id]}-{entity}-{base}"
        feature_id = self._unique("features", base)
        record = {
            "id": feature_id,
            "name": feature_id,
            "description": f"{_title(signal)} per {entity} over the last {window}, "
            f"computed from {', '.join(source_ids)}.",
            "owner_emails": self._owners(team_id),
            "labels": self._labels(team_id, entity=entity),
            "source_dataset_ids": list(source_ids),
            "versions": [{"version": "v1", "created_at": rfc3339(at)}],
            "created_at": rfc3339(at),
        }
        return self._put("features", record, at)

    def add_feature_version(self, feature_id: str, at: int) -> list[Event]:
        versions = self._records["features"][feature_id]["versions"]
        entry = {"version": f"v{len(versions) + 1}", "created_at": rfc3339(at)}
        self._update("features", feature_id, at, versions=[*versions, entry])
        return [self.event("features", feature_id)]

    # pipelines and runs

    def _new_pipeline(
        self,
        at: int,
        team_id: str,
        base: str,
        run_prefix: str,
        reads: list[str],
        description: str,
        **fields: Any,
    ) -> str:
        pipeline_id = self._unique("pipelines", base)
        self._run_prefix[pipeline_id] = run_prefix
        self._reads[pipeline_id] = reads
        record = {
            "id": pipeline_id,
            "name": pipeline_id,
            "description": description,
            "owner_emails": self._owners(team_id),
            **fields,
            "created_at": rfc3339(at),
        }
        return self._put("pipelines", record, at)

    def new_etl_pipeline(self, at: int, team_id: str, output_ids: list[str]) -> str:
        """The pipeline that builds ``output_ids`` from their upstream datasets."""
        datasets = self._records["datasets"]
        reads = list(
            dict.fromkeys(u for o in output_ids for u in datasets[o]["upstream_dataset_ids"])
        )
        return self._new_pipeline(
            at,
            team_id,
            base=f"{output_ids[0]}-etl",
            run_prefix=f"etl-{output_ids[0]}",
            reads=reads,
            description=f"Builds {', '.join(output_ids)} from {', '.join(reads)}.",
            schedule=SCHEDULE_OF_CADENCE["daily"],
            nodes=list(_ETL_NODES),
            output_dataset_ids=list(output_ids),
        )

    def _cell_entry(self, test_id: str, cell_number: int) -> dict[str, Any]:
        """How a run refers to the A/B test cell it runs for."""
        cell = next(
            c for c in self._records["tests"][test_id]["cells"] if c["cell_number"] == cell_number
        )
        return {"test_id": test_id, "cell_number": cell_number, "cell_name": cell["name"]}

    def start_run(self, pipeline_id: str, at: int, for_cell: tuple[str, int] | None = None) -> str:
        """A run starts, reading the latest version of each dataset its pipeline reads.

        ``for_cell`` is the (test id, cell number) the run is for, if any.
        """
        run_id = self._unique("pipeline-runs", f"{self._run_prefix[pipeline_id]}-{_compact(at)}")
        started = rfc3339(at)
        record = {
            "run_id": run_id,
            "pipeline": pipeline_id,
            "status": "running",
            "started_at": started,
            "ended_at": None,
            "input_dataset_versions": self._latest_versions(self._reads[pipeline_id]),
            "output_dataset_versions": [],
            "ab_test_cells": [self._cell_entry(*for_cell)] if for_cell else [],
            "attempts": [
                {"attempt": 1, "status": "running", "started_at": started, "ended_at": None}
            ],
        }
        self.pools["running"].add(run_id)
        if for_cell:
            self.pools["in-cells"].add(run_id)
        return self._put("pipeline-runs", record, at)

    def finish_run(self, run_id: str, at: int, succeeded: bool) -> list[Event]:
        """A running run ends: an ETL run writes dataset versions, a training run an instance."""
        run = self._records["pipeline-runs"][run_id]
        started = run["started_at"]
        ended = rfc3339(at)
        status = "succeeded" if succeeded else "failed"
        attempts = [{"attempt": 1, "status": status, "started_at": started, "ended_at": ended}]
        if succeeded and self.rng.random() < 0.1:  # a flaky first attempt, retried
            retried = rfc3339(at - self.rng.randint(1, 600))
            attempts = [
                {"attempt": 1, "status": "failed", "started_at": started, "ended_at": retried},
                {"attempt": 2, "status": status, "started_at": retried, "ended_at": ended},
            ]
        pipeline_id = run["pipeline"]
        outputs = self._records["pipelines"][pipeline_id]["output_dataset_ids"] if succeeded else []
        version_events = [self.add_version(d, at) for d in outputs]
        self._update(
            "pipeline-runs",
            run_id,
            at,
            status=status,
            ended_at=ended,
            attempts=attempts,
            output_dataset_versions=[
                {"dataset_id": e["dataset_id"], "version": e["version"]} for e in version_events
            ],
        )
        self.pools["running"].discard(run_id)
        events = [self.event("pipeline-runs", run_id), *version_events]
        model_id = self._model_of.get(pipeline_id)
        if succeeded and model_id is not None:
            instance_id = self._new_instance(model_id, run_id, at)
            events += [
                self.event("instances", instance_id, "created"),
                self.event("models", model_id),
            ]
        return events

    def unassign_run(self, run_id: str, at: int) -> list[Event]:
        """The run is taken out of one of the A/B test cells it ran for."""
        cells = list(self._records["pipeline-runs"][run_id]["ab_test_cells"])
        del cells[self.rng.randrange(len(cells))]
        self._update("pipeline-runs", run_id, at, ab_test_cells=cells)
        if not cells:
            self.pools["in-cells"].discard(run_id)
        return [self.event("pipeline-runs", run_id)]

    # models and instances

    def new_model(
        self,
        at: int,
        team_id: str,
        feature_ids: list[str],
        task: str | None = None,
        cadence: str | None = None,
    ) -> str:
        """A model and the pipeline that trains it on ``feature_ids``, named
        ``{task}-model`` and ``{cadence}-{task}-trainer``; both are drawn unless given."""
        rng = self.rng
        task = task or rng.choice(MODEL_TASKS)
        base = f"{task}-model"
        if base in self._taken["models"]:
            base = f"{self._domain[team_id]}-{base}"
        model_id = self._unique("models", base)
        owners = self._owners(team_id)
        record = {
            "id": model_id,
            "name": model_id,
            "description": f"Predicts {task.replace('-', ' ')} for {self._domain[team_id]}.",
            "owner_emails": owners,
            "labels": self._labels(team_id, task=task, framework=rng.choice(FRAMEWORKS)),
            "instance_ids": [],
            "current_instance_id": None,
            "created_at": rfc3339(at),
        }
        self._put("models", record, at)
        self._features_of[model_id] = list(feature_ids)
        self._next_version[model_id] = 1
        features = self._records["features"]
        reads = [d for f in feature_ids for d in features[f]["source_dataset_ids"]]
        cadence = cadence or rng.choice(CADENCES)
        stem = model_id.replace("-model", "")
        pipeline_id = self._new_pipeline(
            at,
            team_id,
            base=f"{cadence}-{stem}-trainer",
            run_prefix=f"train-{cadence}-{stem}",
            reads=list(dict.fromkeys(reads))[:6],
            description=f"Trains {model_id} {cadence} and registers the result.",
            schedule=SCHEDULE_OF_CADENCE[cadence],
            nodes=list(_TRAIN_NODES),
            output_dataset_ids=[],
        )
        self._trainer[model_id] = pipeline_id
        self._model_of[pipeline_id] = model_id
        return model_id

    def _new_instance(self, model_id: str, run_id: str, at: int) -> str:
        model = self._records["models"][model_id]
        n = self._next_version[model_id]
        self._next_version[model_id] = n + 1
        features = self._features_of[model_id]
        if len(features) > 2 and self.rng.random() < 0.3:  # an ablation: one feature left out
            features = [f for f in features if f != self.rng.choice(features)]
        record = {
            "id": self._unique("instances", f"{model_id}-v{n}-{_compact(at)}"),
            "model_id": model_id,
            "version": str(n),
            "pipeline_run_id": run_id,
            "feature_ids": list(features),
            "owner_emails": model["owner_emails"],
            "labels": model["labels"],
            "status": "staged",
            "deployed_at": None,
            "created_at": rfc3339(at),
        }
        instance_id = self._put("instances", record, at)
        self._update("models", model_id, at, instance_ids=[*model["instance_ids"], instance_id])
        self.pools["staged"].add(instance_id)
        return instance_id

    def promote(self, instance_id: str, at: int) -> list[Event]:
        """The instance goes to production; the model's previous current one is retired."""
        model_id = self._records["instances"][instance_id]["model_id"]
        previous = self._records["models"][model_id]["current_instance_id"]
        self._update("instances", instance_id, at, status="production", deployed_at=rfc3339(at))
        self.pools["staged"].discard(instance_id)
        self.pools["retired"].discard(instance_id)
        events = [self.event("instances", instance_id)]
        if previous is not None and previous != instance_id:
            self._update("instances", previous, at, status="retired")
            self.pools["retired"].add(previous)
            events.append(self.event("instances", previous))
        self._update("models", model_id, at, current_instance_id=instance_id)
        return [*events, self.event("models", model_id)]

    def delete_instance(self, instance_id: str, at: int) -> list[Event]:
        model_id = self._records["instances"][instance_id]["model_id"]
        model = self._records["models"][model_id]
        current = model["current_instance_id"]
        self._delete("instances", instance_id)
        for pool in ("staged", "retired"):
            self.pools[pool].discard(instance_id)
        self._update(
            "models",
            model_id,
            at,
            instance_ids=[i for i in model["instance_ids"] if i != instance_id],
            current_instance_id=None if current == instance_id else current,
        )
        return [self.event("instances", instance_id, "deleted"), self.event("models", model_id)]

    # experiments

    def new_test(
        self, model_id: str, at: int, test_id: str | None = None, treatments: int | None = None
    ) -> str:
        """A DRAFT A/B test comparing new instances of ``model_id`` against a control;
        numbered after the last one and with 1 to 3 treatment cells unless given."""
        rng = self.rng
        if test_id is None:
            self._last_test_number += rng.randint(1, 97)
            while str(self._last_test_number) in self._taken["tests"]:
                self._last_test_number += 1
            test_id = str(self._last_test_number)
        self._taken["tests"].add(test_id)
        hypothesis = rng.choice(HYPOTHESES)
        treatment_names = TREATMENT_NAMES[: treatments or rng.choice((1, 1, 2, 3))]
        model = self._records["models"][model_id]
        record = {
            "test_id": test_id,
            "name": f"{model_id}: {hypothesis}",
            "description": f"Compares {model_id} trained with {hypothesis} to production.",
            "status": "DRAFT",
            "owner_emails": model["owner_emails"],
            "cells": [
                {"cell_number": n, "name": name}
                for n, name in enumerate(("control", *treatment_names), start=1)
            ],
            "created_at": rfc3339(at),
        }
        self._tested_model[test_id] = model_id
        self.pools["draft"].add(test_id)
        return self._put("tests", record, at)

    def activate_test(self, test_id: str, at: int) -> list[Event]:
        """The test starts: the current instance's run serves control, newer runs the others."""
        test = self._records["tests"][test_id]
        model = self._records["models"][self._tested_model[test_id]]
        instances = self._records["instances"]
        recent = [i for i in reversed(model["instance_ids"]) if i != model["current_instance_id"]]
        if model["current_instance_id"] is not None:
            recent.insert(0, model["current_instance_id"])
        runs = list(dict.fromkeys(instances[i]["pipeline_run_id"] for i in recent))
        self._update("tests", test_id, at, status="ACTIVE")
        self.pools["draft"].discard(test_id)
        self.pools["active"].add(test_id)
        events = [self.event("tests", test_id)]
        for cell, run_id in zip(test["cells"], runs, strict=False):
            events += self.assign_run(run_id, test_id, cell["cell_number"], at)
        return events

    def assign_run(self, run_id: str, test_id: str, cell_number: int, at: int) -> list[Event]:
        """The run now serves one cell of a test."""
        entry = self._cell_entry(test_id, cell_number)
        cells = self._records["pipeline-runs"][run_id]["ab_test_cells"]
        if entry in cells:
            return []
        self._update("pipeline-runs", run_id, at, ab_test_cells=[*cells, entry])
        self.pools["in-cells"].add(run_id)
        return [self.event("pipeline-runs", run_id)]

    def conclude_test(self, test_id: str, at: int) -> list[Event]:
        self._update("tests", test_id, at, status="CONCLUDED")
        self.pools["active"].discard(test_id)
        return [self.event("tests", test_id)]

    def delete_test(self, test_id: str) -> list[Event]:
        """Only drafts are deleted: no run has served them, so nothing refers to them."""
        self._delete("tests", test_id)
        self.pools["draft"].discard(test_id)
        return [self.event("tests", test_id, "deleted")]

    # any labeled entity

    def retier(self, collection: str, native_id: str, at: int) -> list[Event]:
        """The entity moves to another tier (its ``tier`` label changes)."""
        labels = self._records[collection][native_id]["labels"]
        tier = self.rng.choice(TIERS)
        changed = [{"key": "tier", "value": tier} if lb["key"] == "tier" else lb for lb in labels]
        self._update(collection, native_id, at, labels=changed)
        return [self.event(collection, native_id)]
