"""Catch-up polling of MLflow: what the webhook deliveries missed, found by update time.

MLflow retries a webhook delivery three times and then drops it, and mds may be down when
it comes. Each poll walks ``registered-models/search`` and ``model-versions/search``
newest first (``last_updated_timestamp DESC``) and stops once it is past what it has seen;
everything newer is announced as a thin event through the durable intake, and only then is
the cursor advanced and persisted, so a crash between the two repeats an announcement
(harmless: events are hints) and never loses one.

A cursor is the newest update time seen plus the items seen within ``lookback_ms`` of it:
a write that commits late with an older timestamp is still found, and an item is not
announced again while its timestamp stays the same. The first poll (no cursor) announces
everything, which is how an existing MLflow is imported.

MLflow changes tags and aliases without touching any timestamp; those reach mds through
webhooks or, failing that, through reconciliation, whose listing token covers them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdsd.connectors.base import InvalidPayload, SourceUnavailable
from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.mlflow.normalize import millis, rfc3339
from mdsd.connectors.payload import Payload

log = logging.getLogger(__name__)

ORIGIN = "mlflow-catchup"
#: how far behind the newest timestamp seen a late commit is still looked for
LOOKBACK_MS = 30_000
NEWEST_FIRST = "last_updated_timestamp DESC"

Submit = Callable[[bytes, str], Awaitable[Any]]


@dataclass(slots=True)
class Cursor:
    """How far one search API has been read (see the module docstring)."""

    newest_ms: int = 0
    #: item key -> the update time it was announced with, for items near ``newest_ms``
    recent: dict[str, int] = field(default_factory=dict)

    @property
    def floor_ms(self) -> int:
        """Items updated before this were all seen; a newest-first walk stops here."""
        return self.newest_ms - LOOKBACK_MS if self.newest_ms else -1

    def is_news(self, key: str, updated_ms: int) -> bool:
        return updated_ms >= self.floor_ms and self.recent.get(key) != updated_ms

    def advanced(self, seen: dict[str, int]) -> Cursor:
        """The cursor once ``seen`` (key -> update time) is durably announced."""
        newest = max([self.newest_ms, *seen.values()])
        recent = {**self.recent, **seen}
        return Cursor(newest, {k: t for k, t in recent.items() if t >= newest - LOOKBACK_MS})

    def to_json(self) -> dict[str, Any]:
        return {"newest_ms": self.newest_ms, "recent": self.recent}

    @classmethod
    def from_json(cls, data: object) -> Cursor:
        if not isinstance(data, dict):
            return cls()
        recent = data.get("recent")
        return cls(
            int(data.get("newest_ms") or 0),
            {str(k): int(v) for k, v in recent.items()} if isinstance(recent, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class Feed:
    """One search API and how its items become thin events."""

    name: str
    path: str
    key: str
    page_size: int
    item_key: Callable[[Payload], str]
    event: Callable[[Payload], dict[str, str]]


FEEDS = (
    Feed(
        "models",
        "registered-models/search",
        "registered_models",
        1000,
        lambda m: m.id("name"),
        lambda m: {"event_type": "mlflow_model_changed", "name": m.id("name")},
    ),
    Feed(
        "versions",
        "model-versions/search",
        "model_versions",
        1000,
        lambda v: f"{v.id('name')}/{v.id('version')}",
        lambda v: {
            "event_type": "mlflow_model_version_changed",
            "name": v.id("name"),
            "version": v.id("version"),
        },
    ),
)


class CatchUp:
    """Polls one MLflow on an interval; ``poll()`` once, or ``run()`` until cancelled."""

    def __init__(
        self,
        connector: MlflowConnector,
        submit: Submit,
        state_path: Path,
        interval_seconds: float,
    ) -> None:
        self.connector = connector
        self.submit = submit
        self.state_path = state_path
        self.interval = interval_seconds
        self.cursors = self._load()
        self.polls = 0
        self.announced = 0
        self.last_poll_at: float | None = None
        self.last_error: str | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except (SourceUnavailable, InvalidPayload) as exc:
                self.last_error = str(exc)
                log.warning("mlflow catch-up poll failed, next in %.0fs: %s", self.interval, exc)
            except Exception as exc:  # the loop must outlive any one poll
                self.last_error = repr(exc)
                log.exception("mlflow catch-up poll failed unexpectedly")
            await asyncio.sleep(self.interval)

    async def poll(self) -> int:
        """Announce what changed since the last poll; returns the number of events."""
        events: list[dict[str, str]] = []
        seen: dict[str, dict[str, int]] = {}
        for feed in FEEDS:
            seen[feed.name] = {}
            async for item, key, updated in self._news(feed):
                events.append(feed.event(item))
                seen[feed.name][key] = updated
        if events:
            await self.submit(b"\n".join(json.dumps(e).encode() for e in events), ORIGIN)
        for feed in FEEDS:
            self.cursors[feed.name] = self.cursors[feed.name].advanced(seen[feed.name])
        self._save()
        self.polls += 1
        self.announced += len(events)
        self.last_poll_at = time.time()
        self.last_error = None
        return len(events)

    async def _news(self, feed: Feed) -> AsyncIterator[tuple[Payload, str, int]]:
        cursor = self.cursors[feed.name]
        params: dict[str, str | int] = {"max_results": feed.page_size, "order_by": NEWEST_FIRST}
        async for item in self.connector.pages(feed.path, feed.key, params):
            updated = millis(item, "last_updated_timestamp") or 0
            if updated < cursor.floor_ms:
                return  # newest first: the rest was seen by earlier polls
            key = feed.item_key(item)
            if cursor.is_news(key, updated):
                yield item, key, updated

    def stats(self) -> dict[str, object]:
        return {
            "interval_seconds": self.interval,
            "polls": self.polls,
            "announced": self.announced,
            "last_poll_at": rfc3339(self.last_poll_at * 1000) if self.last_poll_at else None,
            "last_error": self.last_error,
            "cursor_ms": {name: c.newest_ms for name, c in self.cursors.items()},
        }

    # -- the persisted cursors ----------------------------------------------------------------

    def _load(self) -> dict[str, Cursor]:
        """The saved cursors, unless they belong to another MLflow (``base_url`` changed)."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            state = {}
        if not isinstance(state, dict) or state.get("base_url") != self.connector.policy.base_url:
            state = {}
        cursors = state.get("cursors")
        if not isinstance(cursors, dict):
            cursors = {}
        return {feed.name: Cursor.from_json(cursors.get(feed.name)) for feed in FEEDS}

    def _save(self) -> None:
        state = {
            "base_url": self.connector.policy.base_url,
            "cursors": {name: c.to_json() for name, c in self.cursors.items()},
        }
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.state_path)
