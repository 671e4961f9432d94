"""The change feed: every committed transaction, fanned out to whoever listens.

Clients (the TUI's live pages, ``GET /v1/changes``) refresh what they show from it. A slow
listener loses old notices rather than holding up the writer: notices are hints to
re-read, never the data itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from store import FactStore, TxReport

QUEUE_LIMIT = 1000


class ChangeFeed:
    def __init__(self, store: FactStore) -> None:
        self.store = store
        self._listeners: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._closed = False
        self._version = 0
        self._changed = asyncio.Event()

    def publish(self, report: TxReport) -> None:
        if self._listeners:  # nobody listening (a backfill, usually): no notice to build
            self._notify(report)
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _notify(self, report: TxReport) -> None:
        db = self.store.db()
        notice = {
            "tx": report.tx,
            "at": report.at.isoformat().replace("+00:00", "Z"),
            "cause": report.meta,
            "entities": sorted(x for x in (db.xid(e) for e in report.entities) if x),
        }
        for queue in list(self._listeners):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(notice)

    @property
    def version(self) -> int:
        """Increases with every published transaction (cheap "anything new?" checks)."""
        return self._version

    async def wait(self, timeout: float) -> bool:
        """Wait until the next publish; False on timeout."""
        try:
            async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """End every subscription (the daemon is shutting down): streams finish at once
        instead of holding the server's graceful shutdown open."""
        self._closed = True
        for queue in list(self._listeners):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def subscribe(self) -> AsyncGenerator[dict[str, Any], None]:
        """Notices as they are published, until the feed is closed."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self._listeners.add(queue)
        try:
            while not self._closed:
                notice = await queue.get()
                if notice is None:
                    return
                yield notice
        finally:
            self._listeners.discard(queue)
