"""A source followed by polling (MLflow's catch-up, Feast's registry): the loop that
outlives any one failed poll, the counters ``mds status`` shows, and the snapshot a poll
compares with, kept in the data dir and replaced atomically (a crash leaves the old one,
so the next poll announces again rather than missing anything)."""

from __future__ import annotations

import asyncio
import json
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from mdsd.base.files import write_json
from mdsd.connectors.base import InvalidPayload, SourceUnavailable

log = logging.getLogger(__name__)


class Poller(ABC):
    """``poll()`` once (what it announced, counted), or ``run()`` every ``interval``
    seconds until cancelled; ``what`` names it in the log."""

    def __init__(self, what: str, state_path: Path, interval: float) -> None:
        self.what = what
        self.state_path = state_path
        self.interval = interval
        self.polls = 0
        self.announced = 0
        self.last_poll_at: float | None = None
        self.last_error: str | None = None

    @abstractmethod
    async def poll(self) -> int:
        """Announce what changed since the last poll; the number of events."""

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except (SourceUnavailable, InvalidPayload) as exc:
                self.last_error = str(exc)
                log.warning("%s failed, next in %.0fs: %s", self.what, self.interval, exc)
            except Exception as exc:  # the loop must outlive any one poll
                self.last_error = repr(exc)
                log.exception("%s failed unexpectedly", self.what)
            await asyncio.sleep(self.interval)

    def counted(self, announced: int, at: float) -> None:
        """A poll that announced ``announced`` events ended well at ``at``."""
        self.polls += 1
        self.announced += announced
        self.last_poll_at = at
        self.last_error = None

    def read_state(self) -> dict[str, Any] | None:
        """The saved snapshot's JSON object, or None (none yet, or unreadable)."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def write_state(self, state: dict[str, Any]) -> None:
        write_json(self.state_path, state)
