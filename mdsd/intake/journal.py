"""The intake journal: durable queue of accepted work, dead letters, and per-unit state.

An event is acknowledged only after its row is committed here; it leaves the queue only
after the transaction its hydration produced is in the fact log. So a crash at any point
re-hydrates at most a few units and loses nothing. SQLite (WAL) through aiosqlite: this is
bookkeeping on the intake path, not a per-keystroke query path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiosqlite

from mds.wire.moments import iso_epoch
from mdsd.base.faults import storage_fault

#: an event queued within this long makes a later one with the same ``event_id``, type and
#: entity a duplicate (redeliveries by buses, webhooks and retrying senders come within
#: minutes or hours)
EVENT_ID_MEMORY_SECONDS = 24 * 3600
#: ids per ``IN (...)`` look-up, well under SQLite's limit on bound parameters
_ID_CHUNK = 500
#: the most queued events whose judged content is held in memory for their merge; past
#: it (merging far behind) the merge judges the raw text again, as after a restart
MAX_HELD_CONTENTS = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intake (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    origin TEXT NOT NULL,
    source TEXT NOT NULL,
    unit TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_id TEXT,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intake_unit ON intake (unit, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL,
    redriven_at REAL
);
CREATE TABLE IF NOT EXISTS seen_events (
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    unit TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (event_id, event_type, unit)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_events_at ON seen_events (seen_at);
CREATE TABLE IF NOT EXISTS units (
    unit TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    last_ok_at REAL,
    last_enriched_at REAL,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL
);
"""


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """What the journal needs of an accepted event."""

    source: str
    unit: str
    event_type: str
    event_id: str | None
    raw: str
    #: what the door made of ``raw`` (``Accepted.content``): held in memory only, for the
    #: merge of a source whose events carry their content; never written
    content: object = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_at: float
    origin: str
    reason: str
    raw: str
    redriven_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": iso_epoch(self.received_at),
            "origin": self.origin,
            "reason": self.reason,
            "raw": self.raw,
            "redriven_at": iso_epoch(self.redriven_at),
        }


@dataclass(frozen=True, slots=True)
class UnitState:
    unit: str
    source: str
    last_ok_at: float | None
    last_enriched_at: float | None
    last_error: str | None
    failures: int
    next_attempt_at: float | None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _alone(
    method: Callable[Concatenate[Journal, _P], Awaitable[_R]],
) -> Callable[Concatenate[Journal, _P], Awaitable[_R]]:
    """Run ``method`` with the connection to itself, start to commit.

    Intake, the hydrator, enrichment and the API use the journal at once, and a method
    that awaits between its statements let another run in the gap: that one's commit
    made half of an enqueue durable (an event marked seen but not queued, so its
    redelivery was dropped), its insert moved ``last_insert_rowid`` (an enqueue then
    handed its units another table's row ids, and their rows stayed pending for good),
    and two deliveries of one event both passed the duplicate check.

    A method that fails leaves nothing behind: its open transaction is rolled back, or
    the next method's commit would make its half durable. A failure of the disk under
    the journal (full, or an I/O error) is raised as a ``StorageFault``, to be retried.
    """

    @functools.wraps(method)
    async def alone(self: Journal, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with self._lock:
            try:
                return await method(self, *args, **kwargs)
            except Exception as exc:  # a value SQLite cannot take, too, midway
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await self._db.rollback()
                fault = storage_fault(exc, "journal") if isinstance(exc, sqlite3.Error) else None
                if fault is None:
                    raise
                raise fault from exc

    return alone


class Journal:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        self._lock = asyncio.Lock()
        #: ``enqueue`` calls waiting for the next write: (events, origin, its answer)
        self._waiting: list[
            tuple[list[QueuedEvent], str, asyncio.Future[list[tuple[str, str, int]]]]
        ] = []
        self._writing: asyncio.Task[None] | None = None
        #: unit -> {seq: content} of queued events whose content the door judged
        self._contents: dict[str, dict[int, object]] = {}
        self._held = 0

    @classmethod
    async def open(cls, path: Path, *, fsync: bool = False) -> Journal:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a process crash (the WAL is written before commit returns);
        # FULL also survives power loss.
        await connection.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        await connection.executescript(_SCHEMA)
        await connection.commit()
        return cls(connection)

    @_alone
    async def backup(self, target: Path) -> None:
        """A consistent copy at ``target`` (SQLite's online backup), taken between two of
        the journal's transactions (``mdsd backup``)."""
        async with aiosqlite.connect(target) as copy:
            await self._db.backup(copy)

    @_alone
    async def close(self) -> None:
        await self._db.close()

    # -- the queue ------------------------------------------------------------------------

    async def enqueue(
        self, events: Sequence[QueuedEvent], origin: str
    ) -> list[tuple[str, str, int]]:
        """Persist events, but not redeliveries of ones queued before (contract 1.1:
        ``event_id`` is for de-duplication); returns (source, unit, seq) for each persisted.

        Callers that come while a write is under way share the next one (group commit):
        a door taking one event a request (``POST /api/v1/lineage``, as OpenLineage's
        HTTP transport sends) paid six round trips to SQLite's thread per event, so 16
        senders got about 600 events/s through; sharing, they pay them once per write.
        Each caller still returns only once its own events are durable."""
        waiting: asyncio.Future[list[tuple[str, str, int]]]
        waiting = asyncio.get_running_loop().create_future()
        self._waiting.append((list(events), origin, waiting))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting())
        return await asyncio.shield(waiting)

    async def _write_waiting(self) -> None:
        """Write what callers of ``enqueue`` left waiting, a transaction for all of them,
        until none is left; each caller hears its own part, or the write's failure."""
        while self._waiting:
            groups, self._waiting = self._waiting, []
            try:
                parts = await self._enqueue_groups(
                    [(events, origin) for events, origin, _ in groups]
                )
            except Exception as exc:  # every caller hears it: nothing of theirs is durable
                for _, _, waiting in groups:
                    waiting.set_exception(exc)
                continue
            except BaseException:  # cancelled (shutting down): so are the callers
                for _, _, waiting in groups:
                    waiting.cancel()
                raise
            for (_, _, waiting), part in zip(groups, parts, strict=True):
                waiting.set_result(part)

    @_alone
    async def _enqueue_groups(
        self, groups: Sequence[tuple[Sequence[QueuedEvent], str]]
    ) -> list[list[tuple[str, str, int]]]:
        """One transaction for several ``enqueue`` calls; (source, unit, seq) per call."""
        now = time.time()
        owners = [(g, origin, e) for g, (events, origin) in enumerate(groups) for e in events]
        fresh = [owners[i] for i in await self._unseen([e for _, _, e in owners], now)]
        parts: list[list[tuple[str, str, int]]] = [[] for _ in groups]
        if not fresh:
            await self._db.commit()  # what _unseen pruned
            return parts
        await self._db.executemany(
            "INSERT INTO seen_events (event_id, event_type, unit, seen_at) VALUES (?, ?, ?, ?)",
            [(e.event_id, e.event_type, e.unit, now) for _, _, e in fresh if e.event_id],
        )
        await self._db.executemany(
            "INSERT INTO intake (received_at, origin, source, unit, event_type, event_id, raw)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(now, o, e.source, e.unit, e.event_type, e.event_id, e.raw) for _, o, e in fresh],
        )
        async with self._db.execute("SELECT last_insert_rowid()") as cursor:
            row = await cursor.fetchone()
        await self._db.commit()
        # One connection writes, so one statement's AUTOINCREMENT ids are consecutive.
        first = (int(row[0]) if row else 0) - len(fresh) + 1
        for i, (g, _, e) in enumerate(fresh):
            parts[g].append((e.source, e.unit, first + i))
            if e.content is not None and self._held < MAX_HELD_CONTENTS:
                self._contents.setdefault(e.unit, {})[first + i] = e.content
                self._held += 1
        return parts

    async def _unseen(self, events: Sequence[QueuedEvent], now: float) -> list[int]:
        """The positions in ``events`` of those that repeat none seen lately or earlier
        in the batch.

        A repeat has the same ``event_id``, type and entity: a redelivery. An id that comes
        back naming another change (a sender reusing ids) is still queued, since dropping
        it would lose that change until the next reconciliation."""
        ids = sorted({e.event_id for e in events if e.event_id is not None})
        if not ids:
            return list(range(len(events)))
        await self._db.execute(
            "DELETE FROM seen_events WHERE seen_at < ?", (now - EVENT_ID_MEMORY_SECONDS,)
        )
        seen: set[tuple[str, str, str]] = set()
        query = "SELECT event_id, event_type, unit FROM seen_events WHERE event_id IN ({})"
        for rows in await self._rows_in(query, ids):
            seen.update((str(i), str(t), str(u)) for i, t, u in rows)
        fresh = []
        for position, event in enumerate(events):
            if event.event_id is None:
                fresh.append(position)
                continue
            key = (event.event_id, event.event_type, event.unit)
            if key not in seen:
                fresh.append(position)
                seen.add(key)
        return fresh

    @_alone
    async def carried(
        self, units: Sequence[tuple[str, int]]
    ) -> dict[str, list[tuple[str, object]]]:
        """The events queued for each (unit, up to seq), oldest first, each as its raw text
        and what the door made of it (``None`` when this process did not judge it, or no
        longer holds it): the content of a source whose events carry it (OpenLineage),
        kept here until it is written. One read for a batch of units: a read per unit was
        a round trip to SQLite's thread each, as much of the event loop as merging it."""
        upto = dict(units)
        found: dict[str, list[tuple[str, object]]] = {unit: [] for unit in upto}
        query = "SELECT unit, seq, raw FROM intake WHERE unit IN ({}) ORDER BY seq"
        for rows in await self._rows_in(query, sorted(upto)):
            for unit, seq, raw in rows:
                if seq <= upto[unit]:
                    held = self._contents.get(unit, {}).get(seq)
                    found[unit].append((str(raw), held))
        return found

    async def _rows_in(self, query: str, keys: Sequence[str]) -> list[Iterable[sqlite3.Row]]:
        """The rows of ``query`` (its ``IN ({})`` filled in) for ``keys``, a part of at
        most ``_ID_CHUNK`` keys at a time."""
        parts = []
        for start in range(0, len(keys), _ID_CHUNK):
            chunk = keys[start : start + _ID_CHUNK]
            async with self._db.execute(query.format(",".join("?" * len(chunk))), chunk) as cursor:
                parts.append(await cursor.fetchall())
        return parts

    @_alone
    async def pending(self) -> list[tuple[str, str, int]]:
        """(source, unit, newest seq) of every unit with queued work, oldest first."""
        async with self._db.execute(
            "SELECT source, unit, MAX(seq) FROM intake GROUP BY unit ORDER BY MIN(seq)"
        ) as cursor:
            return [(str(s), str(u), int(q)) for s, u, q in await cursor.fetchall()]

    @_alone
    async def complete(self, done: Iterable[tuple[str, int]]) -> None:
        """Drop the events of each (unit, up to seq): their effect is in the fact log."""
        rows = list(done)
        if rows:
            await self._db.executemany("DELETE FROM intake WHERE unit = ? AND seq <= ?", rows)
            await self._db.commit()
        for unit, upto in rows:
            held = self._contents.get(unit)
            if held is None:
                continue
            for seq in [seq for seq in held if seq <= upto]:
                del held[seq]
                self._held -= 1
            if not held:
                del self._contents[unit]

    @_alone
    async def pending_count(self) -> int:
        async with self._db.execute("SELECT COUNT(*) FROM intake") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    # -- dead letters -----------------------------------------------------------------------

    @_alone
    async def dead_letter(self, items: Iterable[tuple[str, str]], origin: str) -> int:
        """Keep (reason, raw) pairs that could not be accepted. Returns how many."""
        rows = [(time.time(), origin, reason, raw) for reason, raw in items]
        if rows:
            await self._db.executemany(
                "INSERT INTO dead_letters (received_at, origin, reason, raw) VALUES (?, ?, ?, ?)",
                rows,
            )
            await self._db.commit()
        return len(rows)

    @_alone
    async def dead_letters(
        self, limit: int = 100, *, include_redriven: bool = False
    ) -> list[DeadLetter]:
        return await self._dead_letters(limit, include_redriven)

    async def _dead_letters(self, limit: int, include_redriven: bool) -> list[DeadLetter]:
        where = "" if include_redriven else "WHERE redriven_at IS NULL"
        async with self._db.execute(
            f"SELECT id, received_at, origin, reason, raw, redriven_at FROM dead_letters {where}"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ) as cursor:
            return [DeadLetter(*row) for row in await cursor.fetchall()]

    @_alone
    async def dead_letter_count(self) -> int:
        async with self._db.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE redriven_at IS NULL"
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @_alone
    async def take_dead_letters(self, ids: Sequence[int] | None) -> list[DeadLetter]:
        """Mark dead letters as redriven and return them (all when ``ids`` is None)."""
        if ids is None:
            letters = await self._dead_letters(1_000_000, include_redriven=False)
        else:
            marks = ",".join("?" * len(ids)) or "NULL"
            async with self._db.execute(
                "SELECT id, received_at, origin, reason, raw, redriven_at FROM dead_letters"
                f" WHERE redriven_at IS NULL AND id IN ({marks})",
                tuple(ids),
            ) as cursor:
                letters = [DeadLetter(*row) for row in await cursor.fetchall()]
        await self._db.executemany(
            "UPDATE dead_letters SET redriven_at = ? WHERE id = ?",
            [(time.time(), letter.id) for letter in letters],
        )
        await self._db.commit()
        return letters

    @_alone
    async def restore_dead_letter(self, letter_id: int, reason: str) -> None:
        """Put back a dead letter a redrive could not use, with the reason it failed now."""
        await self._db.execute(
            "UPDATE dead_letters SET redriven_at = NULL, reason = ? WHERE id = ?",
            (reason, letter_id),
        )
        await self._db.commit()

    # -- per-unit state -----------------------------------------------------------------------

    @_alone
    async def record_success(
        self, units: Iterable[tuple[str, str]], *, enriched: bool = False
    ) -> None:
        now = time.time()
        rows = [(unit, source, now, now if enriched else None) for source, unit in units]
        if not rows:
            return
        await self._db.executemany(
            "INSERT INTO units (unit, source, last_ok_at, last_enriched_at, failures)"
            " VALUES (?, ?, ?, ?, 0) ON CONFLICT(unit) DO UPDATE SET"
            " last_ok_at = excluded.last_ok_at, failures = 0, last_error = NULL,"
            " next_attempt_at = NULL,"
            " last_enriched_at = COALESCE(excluded.last_enriched_at, units.last_enriched_at)",
            rows,
        )
        await self._db.commit()

    @_alone
    async def record_enriched(self, units: Iterable[str]) -> None:
        now = time.time()
        await self._db.executemany(
            "UPDATE units SET last_enriched_at = ? WHERE unit = ?", [(now, u) for u in units]
        )
        await self._db.commit()

    @_alone
    async def record_failure(
        self, source: str, unit: str, error: str, backoff: Callable[[int], float]
    ) -> int:
        """Count a failed hydration and when it is retried (``backoff(failures)`` seconds
        from now); returns the number of consecutive failures."""
        async with self._db.execute("SELECT failures FROM units WHERE unit = ?", (unit,)) as cursor:
            row = await cursor.fetchone()
        failures = (int(row[0]) if row else 0) + 1
        await self._db.execute(
            "INSERT INTO units (unit, source, last_error, failures, next_attempt_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(unit) DO UPDATE SET"
            " last_error = excluded.last_error, failures = excluded.failures,"
            " next_attempt_at = excluded.next_attempt_at",
            (unit, source, error, failures, time.time() + backoff(failures)),
        )
        await self._db.commit()
        return failures

    @_alone
    async def unit_state(self, unit: str) -> UnitState | None:
        async with self._db.execute(
            "SELECT unit, source, last_ok_at, last_enriched_at, last_error, failures,"
            " next_attempt_at FROM units WHERE unit = ?",
            (unit,),
        ) as cursor:
            row = await cursor.fetchone()
        return UnitState(*row) if row else None

    @_alone
    async def failing_units(self, limit: int = 100) -> list[UnitState]:
        async with self._db.execute(
            "SELECT unit, source, last_ok_at, last_enriched_at, last_error, failures,"
            " next_attempt_at FROM units WHERE failures > 0 ORDER BY next_attempt_at LIMIT ?",
            (limit,),
        ) as cursor:
            return [UnitState(*row) for row in await cursor.fetchall()]

    @_alone
    async def unit_times(self) -> dict[str, tuple[float | None, float | None]]:
        """unit -> (last_ok_at, last_enriched_at), for staleness reports."""
        async with self._db.execute(
            "SELECT unit, last_ok_at, last_enriched_at FROM units"
        ) as cursor:
            return {str(u): (ok, en) for u, ok, en in await cursor.fetchall()}

    # -- housekeeping -------------------------------------------------------------------------

    @_alone
    async def prune_seen_events(self, now: float | None = None) -> int:
        """Forget event ids older than ``EVENT_ID_MEMORY_SECONDS``: past it a redelivery is
        queued again anyway. Enqueueing prunes too, but only when events with ids arrive;
        returns how many were forgotten."""
        cutoff = (time.time() if now is None else now) - EVENT_ID_MEMORY_SECONDS
        cursor = await self._db.execute("DELETE FROM seen_events WHERE seen_at < ?", (cutoff,))
        await self._db.commit()
        return cursor.rowcount

    async def prune_units(
        self, unknown: Callable[[Sequence[str]], Collection[str]], *, page: int = 1000
    ) -> int:
        """Drop the rows of units that name nothing: of the units without failures, those
        ``unknown`` picks from each page (ids the fact store has never held; 50,000 junk
        ids left 50,000 rows for good). Failing units keep their rows: those hold the
        retry backoff. Returns how many rows were dropped."""
        dropped = 0
        after = ""
        while names := await self._healthy_units(after, page):
            after = names[-1]
            dropped += await self._forget_units(unknown(names))
        return dropped

    @_alone
    async def _healthy_units(self, after: str, limit: int) -> list[str]:
        async with self._db.execute(
            "SELECT unit FROM units WHERE failures = 0 AND unit > ? ORDER BY unit LIMIT ?",
            (after, limit),
        ) as cursor:
            return [str(unit) for (unit,) in await cursor.fetchall()]

    @_alone
    async def _forget_units(self, units: Collection[str]) -> int:
        if not units:
            return 0
        cursor = await self._db.executemany(
            "DELETE FROM units WHERE unit = ? AND failures = 0", [(unit,) for unit in units]
        )
        await self._db.commit()
        return cursor.rowcount
