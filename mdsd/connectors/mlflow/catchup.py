"""Catch-up polling of MLflow: every change it can make, found by listing and diffing.

MLflow pushes webhooks for a few registry changes only, and drops a delivery after three
retries; and it makes many changes without moving any timestamp (tags, aliases, model
renames, deletes, a run's new metrics or tags). So a poll does not follow timestamps: it
reads MLflow's cheap listings whole and compares each item with what the last poll saw:

- ``registered-models/search``: every model with its tags and aliases (renames, deletes);
- ``model-versions/search``: every version with its stage, tags and description;
- ``experiments/search`` (deleted ones too): renames, tags, deletes;
- ``runs/search`` (a POST that only reads; deleted runs too) over every experiment, for
  runs started within ``run_window`` (all runs on the first poll): status, new metrics,
  params, tags, renames, deletes;
- ``logged-models/search`` (MLflow 3; a POST too): the models runs logged.

An item is news when it is new, when its ``fingerprint`` (a digest of all the listing
says of it) changed, or when it vanished (a run only if it started within the window: an
older one leaves the listing without leaving MLflow); each becomes a thin event through
the durable intake, and only then is the snapshot replaced and persisted, so a crash
between the two repeats an announcement (harmless: events are hints) and never loses one.
After downtime the first poll compares with the snapshot saved before it, so what the
webhooks missed meanwhile is found at once.

A poll that read every listing to the end is a moment mds is *in step* with MLflow as of
the poll's start, once the hydration it asked for is done: ``in_step_at`` in ``mds status``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.mlflow.normalize import fingerprint, millis, nested, rfc3339
from mdsd.connectors.polling import Poller

log = logging.getLogger(__name__)

ORIGIN = "mlflow-catchup"
#: the snapshot's layout; another (an older mds's cursors) is dropped and all is re-read
STATE_VERSION = 2

Submit = Callable[[bytes, str], Awaitable[Any]]
Event = dict[str, str]


@dataclass(frozen=True, slots=True)
class Seen:
    """One listed item as a poll saw it: its fingerprint, and (runs) when it started."""

    digest: str
    started_ms: int | None = None


#: one poll's read of one kind of item: key -> what was seen
Listing = dict[str, Seen]


def event_of(kind: str, key: str) -> Event:
    """The thin event that has an item of ``kind``, known by ``key``, read again."""
    if kind == "models":
        return {"event_type": "mlflow_model_changed", "name": key}
    if kind == "versions":  # version numbers hold no "/", model names may
        name, _, version = key.rpartition("/")
        return {"event_type": "mlflow_model_version_changed", "name": name, "version": version}
    if kind == "experiments":
        return {"event_type": "mlflow_experiment_changed", "experiment_id": key}
    if kind == "logged_models":
        return {"event_type": "mlflow_logged_model_changed", "model_id": key}
    return {"event_type": "mlflow_run_changed", "run_id": key}


KINDS = ("models", "versions", "experiments", "runs", "logged_models")


class CatchUp(Poller):
    """Polls one MLflow on an interval; ``poll()`` once, or ``run()`` until cancelled.

    ``settled`` says whether no hydration of MLflow's units is waiting or in flight; with
    it, a complete poll becomes ``in_step_at`` once what it announced is written.
    """

    def __init__(
        self,
        connector: MlflowConnector,
        submit: Submit,
        state_path: Path,
        interval_seconds: float,
        *,
        run_window_seconds: float,
        settled: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("mlflow catch-up poll", state_path, interval_seconds)
        self.connector = connector
        self.submit = submit
        self.run_window = run_window_seconds
        self.settled = settled
        self.clock = clock
        self.snapshot = self._load()
        #: the start of the latest complete poll, and of the latest one known hydrated
        self._complete_at: float | None = None
        self._in_step_at: float | None = None

    async def poll(self) -> int:
        """Announce what changed since the last poll; returns the number of events."""
        started = self.clock()
        first_runs = not self.snapshot.get("runs")
        window_floor = None if first_runs else int((started - self.run_window) * 1000)
        experiments: list[str] = []
        listings = {
            "models": await self._listing(self._models()),
            "versions": await self._listing(self._versions()),
            "experiments": await self._listing(self._experiments(experiments)),
            "runs": await self._listing(self._runs(experiments, window_floor)),
            "logged_models": await self._listing(self._logged_models(experiments)),
        }
        events: list[Event] = []
        for kind, listing in listings.items():
            events += self._news(kind, listing, window_floor if kind == "runs" else None)
        if events:
            await self.submit(b"\n".join(json.dumps(e).encode() for e in events), ORIGIN)
        for kind, listing in listings.items():
            self.snapshot[kind] = self._kept(kind, listing, window_floor)
        self._save()
        self.counted(len(events), started)
        self._complete_at = started
        self._check_in_step()
        return len(events)

    def _news(self, kind: str, listing: Listing, window_floor: int | None) -> list[Event]:
        """Events for the items of ``kind`` that are new, changed or gone since last time."""
        before = self.snapshot.get(kind, {})
        changed = [key for key, seen in listing.items() if before.get(key) != seen]
        gone = [
            key
            for key, seen in before.items()
            if key not in listing and _in_window(seen, window_floor)
        ]
        return [event_of(kind, key) for key in changed + gone]

    def _kept(self, kind: str, listing: Listing, window_floor: int | None) -> dict[str, Seen]:
        """The snapshot of ``kind`` after this poll: what it listed, plus (runs) what it
        could not list because it started before the window, as last seen."""
        kept = dict(listing)
        if kind == "runs":
            for key, seen in self.snapshot.get(kind, {}).items():
                if key not in kept and not _in_window(seen, window_floor):
                    kept[key] = seen
        return kept

    @staticmethod
    async def _listing(items: AsyncIterator[tuple[str, Seen]]) -> Listing:
        return {key: seen async for key, seen in items}

    async def _models(self) -> AsyncIterator[tuple[str, Seen]]:
        params = {"max_results": 1000}
        async for m in self.connector.pages(
            "registered-models/search", "registered_models", params
        ):
            name = m.id("name")
            yield name, Seen(fingerprint(m))

    async def _versions(self) -> AsyncIterator[tuple[str, Seen]]:
        params = {"max_results": 10000}
        async for v in self.connector.pages("model-versions/search", "model_versions", params):
            yield f"{v.id('name')}/{v.id('version')}", Seen(fingerprint(v))

    async def _experiments(self, ids: list[str]) -> AsyncIterator[tuple[str, Seen]]:
        """Every experiment, deleted ones too; their ids are collected into ``ids``."""
        async for e in self.connector.experiments("ALL"):
            ids.append(e.id("experiment_id"))
            yield ids[-1], Seen(fingerprint(e))

    async def _runs(
        self, experiments: list[str], window_floor: int | None
    ) -> AsyncIterator[tuple[str, Seen]]:
        since = None if window_floor is None else f"attributes.start_time >= {window_floor}"
        async for run in self.connector.runs(experiments, view="ALL", filter=since):
            info = nested(run, "info")
            yield info.id("run_id", "run_uuid"), Seen(fingerprint(run), millis(info, "start_time"))

    async def _logged_models(self, experiments: list[str]) -> AsyncIterator[tuple[str, Seen]]:
        async for logged in self.connector.logged_models(experiments):
            yield nested(logged, "info").id("model_id"), Seen(fingerprint(logged))

    # -- in step --------------------------------------------------------------------------------

    def _check_in_step(self) -> None:
        """The latest complete poll is in step once nothing of MLflow's waits to be hydrated
        (everything it announced was submitted before it completed)."""
        if self._complete_at is not None and self.settled():
            self._in_step_at = self._complete_at

    def in_step_at(self) -> str | None:
        """When (by MLflow's clock of this poll's start) mds last held all MLflow showed."""
        self._check_in_step()
        return rfc3339(self._in_step_at * 1000) if self._in_step_at else None

    def stats(self) -> dict[str, object]:
        return {
            "interval_seconds": self.interval,
            "run_window_seconds": self.run_window,
            "polls": self.polls,
            "announced": self.announced,
            "last_poll_at": rfc3339(self.last_poll_at * 1000) if self.last_poll_at else None,
            "last_error": self.last_error,
            "known": {kind: len(self.snapshot.get(kind, {})) for kind in KINDS},
        }

    # -- the persisted snapshot ---------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Seen]]:
        """The saved snapshot, unless it belongs to another MLflow (``base_url`` changed) or
        another layout: then everything is news, which re-imports, harmlessly."""
        state = self.read_state()
        if (
            state is None
            or state.get("version") != STATE_VERSION
            or state.get("base_url") != self.connector.policy.base_url
        ):
            return {}
        kinds = state.get("snapshot")
        if not isinstance(kinds, dict):
            return {}
        return {
            kind: {key: Seen(str(value[0]), _started(value[1])) for key, value in items.items()}
            for kind, items in kinds.items()
            if kind in KINDS
            and isinstance(items, dict)
            and all(isinstance(v, list) and len(v) == 2 for v in items.values())
        }

    def _save(self) -> None:
        state = {
            "version": STATE_VERSION,
            "base_url": self.connector.policy.base_url,
            "snapshot": {
                kind: {key: [seen.digest, seen.started_ms] for key, seen in items.items()}
                for kind, items in self.snapshot.items()
            },
        }
        self.write_state(state)


def _started(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _in_window(seen: Seen, window_floor: int | None) -> bool:
    """Whether a listing with this floor would show the item (no floor: everything)."""
    return window_floor is None or seen.started_ms is None or seen.started_ms >= window_floor
