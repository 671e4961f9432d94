"""``mdsd replica``: a read-only daemon whose facts come from a primary's transaction topic.

The same stores and read path as the primary's (``Daemon``), with one writer: the
``Follower`` applying the primary's ``[replication]`` topic in order, each transaction with
its own number, instant and valid times, so the replica answers every read, current and as
of either axis, as the primary did at that transaction. It hydrates, enriches and
reconciles nothing: that is the primary's work. Writes and the primary's own bookkeeping
(dead letters, redrive, reconciliation) are refused, naming the primary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from mdsd.api.changes import ChangeFeed
from mdsd.api.ports import Accepted, PrimaryOnly, Services
from mdsd.base.memory import trim_when_idle
from mdsd.config import Config
from mdsd.connectors import build_connectors
from mdsd.daemon import Daemon
from mdsd.reads.search import Search
from mdsd.reads.units import NoAsks, UnitReads
from mdsd.replication.follower import Follower
from mdsd.replication.settings import ReplicaConfig
from store import TxReport

log = logging.getLogger(__name__)


class ReadOnlyDoor:
    """The event doors of a replica: every submission refused, naming where to send it."""

    def __init__(self, primary: str, max_request_bytes: int) -> None:
        self.primary = primary
        self.max_request_bytes = max_request_bytes

    def refuse(self) -> NoReturn:
        raise PrimaryOnly(
            f"this mdsd is a read-only replica: send events to the primary, {self.primary}"
        )

    async def submit(self, raw: bytes, origin: str) -> Accepted:
        self.refuse()

    async def submit_part(
        self, raw: bytes, origin: str, first_line: int, first_index: int
    ) -> Accepted:
        self.refuse()

    async def submit_lineage(self, raw: bytes, origin: str) -> Accepted:
        self.refuse()


class Replica(Daemon):
    """A daemon that follows ``config.replica``'s topic instead of its sources."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if config.replica is None:
            raise ValueError("mdsd replica needs a [replica] table")
        self.replica: ReplicaConfig = config.replica

    async def _build_rooms(self, data: Path) -> None:
        self.changes = ChangeFeed(self.store)
        # only to say where an entity is seen in its source's UI: a replica reads no source
        self.connectors = build_connectors(self.config.sources)
        self.reader = self._reader(data)
        await self.reader.start()
        self.follower = Follower(self.store, self.replica, data, self.on_commit)
        self.units = UnitReads(self.journal, self._unit_of, NoAsks())
        self.services = self._services()

    async def _resume(self) -> None:
        """Nothing: what the primary had pending, the primary hydrates."""

    def _start_jobs(self, data: Path) -> None:
        self.inbox = data / "inbox"
        self._spawn(self.follower.run, "follow")
        interval = self.config.search.commit_interval_ms / 1000
        self._spawn(partial(self.indexer.run, interval), "indexer")
        if self.config.daemon.memory_trim_idle_seconds:
            idle = self.config.daemon.memory_trim_idle_seconds
            self._spawn(partial(trim_when_idle, idle), "memory")

    async def _stop_writing(self) -> None:
        """The follower is a background job, stopped with them."""

    def on_commit(self, report: TxReport) -> None:
        """A transaction of the primary's, applied: indexed and announced."""
        self.indexer.note(report)
        self.changes.publish(report)

    def _services(self) -> Services:
        door = ReadOnlyDoor(self.replica.primary_name, self.config.intake.max_request_bytes)
        return Services(
            facts=self.store,
            intake=door,
            changes=self.changes,
            search=Search(self.store, self.search_index, self.owners_index),
            unit_state=self.units.state,
            unit_times=self.units.times,
            quality=self.units.quality,
            dead_letters=self._primary_only,
            status=self.status,
            wait_idle=self.wait_idle,
            redrive=self._primary_only,
            reconcile=door.refuse,
            backup=self.backup,
            stale_days=self.config.enrichment.stale_days,
            reader=self.reader,
            source_url=self.source_url,
        )

    async def _primary_only(self, *args: Any) -> NoReturn:
        raise PrimaryOnly(
            "this mdsd is a read-only replica: dead letters, redrive and reconciliation are "
            f"the primary's, {self.replica.primary_name}"
        )

    async def status(self) -> dict[str, Any]:
        """``mds status`` of a replica: the graph as applied, and how far behind it is."""
        return {
            **await self._graph_status(),
            "role": "replica",
            "pending": 0,
            "dead_letters": 0,
            "sources": {},
            "enrichment": {},
            "replica": self.follower.status(),
        }

    async def wait_idle(self, timeout: float) -> bool:
        """True once every transaction the topic held is applied and indexed."""
        deadline = time.monotonic() + timeout
        while not (self.follower.caught_up and not self.indexer.behind):
            if self.follower.caught_up:
                self.indexer.flush_soon()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.05, remaining))
        return True

    def log_ready(self) -> None:
        log.info(
            "mdsd replica ready at transaction %d, following %r (primary: %s)",
            self.store.last_tx,
            self.replica.topic,
            self.replica.primary_name,
        )
