"""Reconciliation: walk every source's listing and queue what the store has missed.

Events may be dropped on the way; the listing endpoints say what each source holds
now. A pass queues hydration, through the normal durable intake, of units that are new,
changed since we last read them, still stubs, or held as resolved but no longer listed
(their hydration answers 404 and the writer marks them deleted). One pass makes any
dropped event harmless; nothing is deleted on the strength of an incomplete listing.

"Changed" compares the listed ``updated_at`` with the last one a pass saw for the unit,
kept in a small side table, else with the entity's own ``updated_at``. Runs, users and
teams carry no ``updated_at`` in their payloads: for them the first pass compares the
listed stamp with when mds last read the unit, and trusts the read only if it came more
than ``[reconcile] clock_skew_seconds`` after the stamp (source clocks are not ours). So the
first pass over an already correct graph re-reads nothing but what changed just before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from mds.wire.model import parse_aip_id
from mds.wire.moments import iso_epoch
from mdsd import facts as F
from mdsd.connectors import Connector, InvalidPayload, Listed, SourceUnavailable
from mdsd.enrichment.ports import Enqueue, Facts, Pending
from mdsd.enrichment.settings import ReconcileConfig
from mdsd.hydration.writer import parse_instant
from mdsd.intake.journal import QueuedEvent
from store import XID, Db

log = logging.getLogger(__name__)

ORIGIN = "reconcile"
#: units queued per journal write
QUEUE_BATCH = 500


@dataclass(slots=True)
class SourcePass:
    listed: int = 0
    queued: Counter[str] = field(default_factory=Counter)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "queued": sum(self.queued.values()),
            "queued_by_reason": dict(self.queued),
            "error": self.error,
        }


@dataclass(slots=True)
class PassReport:
    number: int
    started_at: float
    finished_at: float | None = None
    sources: dict[str, SourcePass] = field(default_factory=dict)
    #: why the pass stopped early, if it did
    failure: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pass": self.number,
            "started_at": iso_epoch(self.started_at),
            "finished_at": iso_epoch(self.finished_at),
            "listed": sum(s.listed for s in self.sources.values()),
            "queued": sum(sum(s.queued.values()) for s in self.sources.values()),
            "errors": [f"{k}: {s.error}" for k, s in self.sources.items() if s.error]
            + ([self.failure] if self.failure else []),
            "sources": {k: s.to_json() for k, s in self.sources.items()},
        }


class ListingMemo:
    """unit -> the ``updated_at`` its source listed when a pass last saw it, when the last
    pass finished, and whether one was cut short by a crash (SQLite)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path) -> ListingMemo:
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.executescript(
            "CREATE TABLE IF NOT EXISTS listed"
            " (unit TEXT PRIMARY KEY, source TEXT NOT NULL, updated_at TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS listed_source ON listed (source);"
            "CREATE TABLE IF NOT EXISTS last_pass"
            " (id INTEGER PRIMARY KEY CHECK (id = 1), finished_at REAL NOT NULL);"
            "CREATE TABLE IF NOT EXISTS running_pass"
            " (id INTEGER PRIMARY KEY CHECK (id = 1), started_at REAL NOT NULL);"
        )
        await connection.commit()
        return cls(connection)

    async def load(self, source: str) -> dict[str, str]:
        async with self._db.execute(
            "SELECT unit, updated_at FROM listed WHERE source = ?", (source,)
        ) as cursor:
            return {str(u): str(v) for u, v in await cursor.fetchall()}

    async def save(self, source: str, rows: Iterable[tuple[str, str]]) -> None:
        """Remember this pass's listing of ``source``; units it no longer lists are dropped."""
        await self._db.execute("DELETE FROM listed WHERE source = ?", (source,))
        await self._db.executemany(
            "INSERT OR REPLACE INTO listed (unit, source, updated_at) VALUES (?, ?, ?)",
            [(unit, source, at) for unit, at in rows],
        )
        await self._db.commit()

    async def last_pass_finished(self) -> float | None:
        """When the last pass that ran to its end finished (epoch seconds), by any process."""
        async with self._db.execute("SELECT finished_at FROM last_pass") as cursor:
            row = await cursor.fetchone()
        return None if row is None else float(row[0])

    async def record_pass(self, finished_at: float) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO last_pass (id, finished_at) VALUES (1, ?)", (finished_at,)
        )
        await self._db.commit()

    async def record_running(self, started_at: float | None) -> None:
        """Mark a pass as running (``started_at``) or as ended (None): a mark found at
        start-up is a pass that a crash, a kill -9 or a shutdown cut short."""
        await self._db.execute("DELETE FROM running_pass")
        if started_at is not None:
            await self._db.execute(
                "INSERT INTO running_pass (id, started_at) VALUES (1, ?)", (started_at,)
            )
        await self._db.commit()

    async def interrupted(self) -> bool:
        async with self._db.execute("SELECT 1 FROM running_pass") as cursor:
            return await cursor.fetchone() is not None

    async def close(self) -> None:
        await self._db.close()


@dataclass(slots=True)
class Held:
    """What the store holds, by aip id, read in bulk once per pass (a pass compares tens
    of thousands of listed units; reading each entity would be a random read apiece)."""

    status: dict[str, str]
    updated_at: dict[str, datetime]
    #: source key -> the units (not parts) held as resolved
    resolved_units: dict[str, set[str]]

    @classmethod
    def read(cls, db: Db) -> Held:
        xids: dict[int, str] = dict(db.entities_with(XID.name))
        status = {xids[e]: s for e, s in db.entities_with(F.STATUS) if e in xids}
        updated = {xids[e]: at for e, at in db.entities_with(F.UPDATED_AT) if e in xids}
        parts = {xids.get(e) for e, _ in db.entities_with(F.PARENT)}
        units: dict[str, set[str]] = {}
        for xid, state in status.items():
            if state != F.STATUS_RESOLVED or xid in parts:
                continue  # a part: its unit answers for it
            try:
                units.setdefault(parse_aip_id(xid).source, set()).add(xid)
            except ValueError:
                continue
        return cls(status, updated, units)


def why_hydrate(
    held: Held,
    listed: Listed,
    memo: dict[str, str],
    read_at: float | None = None,
    clock_skew: float = 0.0,
) -> str | None:
    """The reason a listed unit needs hydrating, or None when the store is up to date.
    ``read_at``: when mds last read the unit (epoch seconds, its clock), if it knows."""
    status = held.status.get(listed.id)
    if status is None:
        return "new"
    if status == F.STATUS_STUB:
        return "stub"
    if status == F.STATUS_DELETED:
        return "reappeared"
    if listed.updated_at is None:
        return None
    seen = memo.get(listed.id)
    if seen is not None:
        return "changed" if seen != listed.updated_at else None
    listed_at = parse_instant(listed.updated_at)
    if listed_at is None:
        return "unversioned"  # a token, not a time: read it once, remember the listing
    held_at = held.updated_at.get(listed.id)
    if held_at is not None:
        return "changed" if listed_at > held_at else None
    if read_at is not None and listed_at.timestamp() + clock_skew < read_at:
        return None  # read after its last change, whatever the clocks' skew
    return "unversioned"  # nothing to compare yet; read it once, remember the listing


class Reconciler:
    """Periodic and on-demand reconciliation passes; at most one runs at a time.

    It reads ``facts`` and the ``journal``'s queue, walks the ``connectors``' listings
    (the mapping is read at each pass, so it may change), queues what is missing through
    ``enqueue`` and remembers listings in the SQLite file ``memo_path``."""

    def __init__(
        self,
        facts: Facts,
        journal: Pending,
        connectors: Mapping[str, Connector],
        *,
        enqueue: Enqueue,
        settings: ReconcileConfig,
        memo_path: Path,
    ) -> None:
        self.facts = facts
        self.journal = journal
        self.connectors = connectors
        self._enqueue = enqueue
        self.config = settings
        self._memo_path = memo_path
        self.passes = 0
        self.current: PassReport | None = None
        self.last: PassReport | None = None
        self._task: asyncio.Task[None] | None = None
        self._memo: ListingMemo | None = None
        self._memo_lock = asyncio.Lock()
        #: when the schedule runs the next pass (epoch seconds), once it is known
        self.next_pass_at: float | None = None
        #: (start, seconds) of the last pass that listed every source whole: whatever
        #: changed before its start has been seen, lost events or not
        self.in_step: tuple[float, float] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> dict[str, Any]:
        """Start a pass in the background; ``{"started": false}`` while one is running."""
        if self.running:
            return {"started": False, "pass": self.passes, "reason": "a pass is already running"}
        self.passes += 1
        self._task = asyncio.create_task(self._pass(self.passes), name=f"reconcile-{self.passes}")
        return {"started": True, "pass": self.passes}

    async def wait(self) -> PassReport | None:
        """The report of the running pass once it finishes (or of the last one). A pass
        that failed has logged why; waiting for it does not raise."""
        if self._task is not None:
            await asyncio.wait([self._task])
        return self.last

    async def run(self) -> None:
        """The periodic schedule: a pass ``[reconcile] interval_seconds`` after the last one
        finished, whichever process ran it, so a daemon restarted more often than the
        interval still reconciles; at start-up when ``on_start``, or when the last pass is
        older than the interval. Cancelling it stops a running pass too."""
        config = self.config
        try:
            delay = 0.0 if config.on_start else await self._until_due(config.interval_seconds)
            while True:
                self.next_pass_at = time.time() + delay
                await asyncio.sleep(delay)
                self.start()
                await self.wait()
                delay = config.interval_seconds
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop a running pass and close the memo (the schedule does this as it ends)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._memo is not None:
            await self._memo.close()
            self._memo = None

    async def _until_due(self, interval: float) -> float:
        """Seconds until the next pass is due: none when the last one was cut short (a
        ``mds reconcile`` was acknowledged, and dropped events may wait on it), else an
        interval after the last recorded one, or a whole interval from now when none ever
        finished (a first start backfills from events, not by walking every source). A memo
        that cannot be read costs the schedule its memory, not the enrichment loop it runs
        in."""
        try:
            memo = await self._opened_memo()
            if await memo.interrupted():
                log.info("the last reconciliation pass was cut short; running one now")
                return 0.0
            last = await memo.last_pass_finished()
        except (sqlite3.Error, OSError) as exc:
            log.warning(
                "reconciliation schedule: last pass unknown (%s); next in %ss", exc, interval
            )
            last = None
        return interval if last is None else max(0.0, last + interval - time.time())

    async def _opened_memo(self) -> ListingMemo:
        """The one memo connection: the schedule and a pass asked at start-up both need it,
        and two connections setting it up at once found the database locked."""
        async with self._memo_lock:
            if self._memo is None:
                self._memo = await ListingMemo.open(self._memo_path)
            return self._memo

    def status(self) -> dict[str, Any]:
        return {
            "passes": self.passes,
            "running": self.running,
            "interval_seconds": self.config.interval_seconds,
            "next_pass_at": iso_epoch(self.next_pass_at) if self.next_pass_at else None,
            # every change a source made before this is in the graph, or queued for it
            "in_step_as_of": iso_epoch(self.in_step[0]) if self.in_step else None,
            # how long a change whose event was lost may wait to be seen: an interval and
            # the last whole pass's length
            "staleness_bound_seconds": (
                round(self.config.interval_seconds + self.in_step[1], 1) if self.in_step else None
            ),
            "current": self.current.to_json() if self.current else None,
            "last": self.last.to_json() if self.last else None,
        }

    # -- one pass --------------------------------------------------------------------------

    async def _pass(self, number: int) -> None:
        report = self.current = PassReport(number, time.time())
        memo: ListingMemo | None = None
        try:
            memo = await self._opened_memo()
            await memo.record_running(report.started_at)
            pending = {unit for _, unit, _ in await self.journal.pending()}
            read_at = {unit: ok for unit, (ok, _) in (await self.journal.unit_times()).items()}
            # a view is safe to read from another thread; the event loop keeps serving
            held = await asyncio.to_thread(Held.read, self.facts.db())
            for key, connector in self.connectors.items():
                outcome = report.sources[key] = SourcePass()
                await self._reconcile_source(key, connector, pending, held, read_at, outcome)
            await memo.record_pass(time.time())  # the schedule counts from here
            await memo.record_running(None)
            if not any(source.error for source in report.sources.values()):
                self.in_step = (report.started_at, time.time() - report.started_at)
        except Exception as exc:  # logged and reported; the next pass starts afresh
            log.exception("reconciliation pass %d failed", number)
            report.failure = f"{type(exc).__name__}: {exc}"
            if memo is not None:  # it ended; only one cancelled or killed is taken up again
                with contextlib.suppress(sqlite3.Error):
                    await memo.record_running(None)
        finally:
            report.finished_at = time.time()
            self.last, self.current = report, None
            summary = report.to_json()
            log.info(
                "reconciliation pass %d: %d listed, %d queued%s",
                number,
                summary["listed"],
                summary["queued"],
                f", errors: {'; '.join(summary['errors'])}" if summary["errors"] else "",
            )

    async def _reconcile_source(
        self,
        key: str,
        connector: Connector,
        pending: set[str],
        held: Held,
        read_at: Mapping[str, float | None],
        outcome: SourcePass,
    ) -> None:
        assert self._memo is not None
        memo = await self._memo.load(key)
        seen: dict[str, str | None] = {}
        queue: list[QueuedEvent] = []
        try:
            async for listed in connector.list_units():
                outcome.listed += 1
                seen[listed.id] = listed.updated_at
                reason = why_hydrate(
                    held, listed, memo, read_at.get(listed.id), self.config.clock_skew_seconds
                )
                if reason is not None and listed.id not in pending:
                    queue.append(self._queued(key, listed.id, reason))
                    outcome.queued[reason] += 1
                if len(queue) >= QUEUE_BATCH:
                    await self._enqueue(queue, ORIGIN)
                    queue = []
        except (SourceUnavailable, InvalidPayload) as exc:
            outcome.error = str(exc)
        if outcome.error is None:
            # only a complete listing can say what is gone
            for unit in sorted(held.resolved_units.get(key, set()) - seen.keys() - pending):
                queue.append(self._queued(key, unit, "unlisted"))
                outcome.queued["unlisted"] += 1
        await self._enqueue(queue, ORIGIN)
        if outcome.error is None:
            await self._memo.save(key, ((u, v) for u, v in seen.items() if v is not None))

    @staticmethod
    def _queued(key: str, unit: str, reason: str) -> QueuedEvent:
        raw = json.dumps({"unit": unit, "reason": reason})
        return QueuedEvent(key, unit, f"reconcile:{reason}", None, raw)
