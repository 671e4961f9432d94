"""Supervision: a background task that dies is started again, never silently lost.

The daemon's long-lived jobs (the inbox watch, indexing, enrichment, the buses, the
hydration workers) are loops that catch what one piece of work can raise. An error that
escapes one anyway (a full disk once killed all 64 hydration workers, and the daemon went
on acknowledging events it never processed) ends the task; here it is logged, counted for
``mds status`` and started again after a backoff that grows while it keeps dying, as the
fetch worker processes are when they hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mds.wire.moments import iso_epoch

log = logging.getLogger(__name__)

#: a restart waits this long, doubled for each death in a row, up to the cap
FIRST_RESTART_SECONDS = 0.5
MAX_RESTART_SECONDS = 30.0
#: a task that ran this long before dying starts again from the first delay
HEALTHY_SECONDS = 60.0

Job = Callable[[], Awaitable[Any]]


@dataclass(slots=True)
class _Record:
    restarts: int = 0
    in_a_row: int = 0
    last_error: str | None = None
    last_died_at: float | None = None


class Supervisor:
    """Runs jobs as tasks and restarts each one that ends with an error."""

    def __init__(
        self,
        *,
        first_restart_seconds: float = FIRST_RESTART_SECONDS,
        max_restart_seconds: float = MAX_RESTART_SECONDS,
    ) -> None:
        self.first_restart_seconds = first_restart_seconds
        self.max_restart_seconds = max_restart_seconds
        self.tasks: list[asyncio.Task[None]] = []
        self._records: dict[str, _Record] = {}

    def spawn(self, job: Job, name: str) -> asyncio.Task[None]:
        """Run ``job()`` until cancelled, calling it again whenever it raises or returns:
        every job here is meant to run as long as the daemon, so one that ends early
        has stopped doing its work."""
        self._records.setdefault(name, _Record())
        task = asyncio.create_task(self._keep(job, name), name=name)
        self.tasks.append(task)
        return task

    async def _keep(self, job: Job, name: str) -> None:
        record = self._records[name]
        while True:
            started = time.monotonic()
            error: Exception | None = None
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            if time.monotonic() - started >= HEALTHY_SECONDS:
                record.in_a_row = 0
            record.in_a_row += 1
            record.restarts += 1
            record.last_error = "returned" if error is None else f"{type(error).__name__}: {error}"
            record.last_died_at = time.time()
            delay = min(
                self.first_restart_seconds * 2 ** (record.in_a_row - 1), self.max_restart_seconds
            )
            log.error(
                "background task %s %s; restarting it in %.1fs",
                name,
                "ended" if error is None else "died",
                delay,
                exc_info=error,
            )
            await asyncio.sleep(delay)

    @property
    def restarts(self) -> int:
        return sum(record.restarts for record in self._records.values())

    def status(self) -> dict[str, Any]:
        """For ``mds status``: how many tasks run, how often each was restarted and why."""
        return {
            "running": sum(1 for task in self.tasks if not task.done()),
            "restarts": self.restarts,
            "restarted": {
                name: {
                    "restarts": record.restarts,
                    "last_error": record.last_error,
                    "last_died_at": iso_epoch(record.last_died_at),
                }
                for name, record in sorted(self._records.items())
                if record.restarts
            },
        }

    async def stop(self, timeout: float) -> list[asyncio.Task[None]]:
        """Cancel every task; the ones that did not end within ``timeout`` seconds."""
        for task in self.tasks:
            task.cancel()
        if not self.tasks:
            return []
        _, stuck = await asyncio.wait(self.tasks, timeout=timeout)
        return list(stuck)
