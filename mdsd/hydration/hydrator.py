"""Hydration: queued units -> fresh reads from their sources -> transactions.

Events only say "unit X changed"; all pending events for one unit are coalesced, so one
read serves them all. Work survives restarts (it lives in the journal until its
transaction is written); a source that is down delays its units with backoff instead of
dropping them, and a payload that cannot be normalized goes to the dead letters.

Each source has its own queue. A free worker takes the oldest queued unit whose source has
a free slot (fewer units of it in flight than its concurrency limit). With one shared
queue, a backfill whose next units mostly belonged to one rate-limited source had every
worker waiting on that source while the others sat idle: 3,540 events over six sources took
69 s, the pace of the busiest source alone. Oldest first, rather than the sources in turn,
keeps the order events arrived in while no source is saturated: sources emit referenced
entities first, and hydrating a referrer before its target costs a stub and a rewrite.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mdsd.base.faults import StorageFault, storage_fault
from mdsd.base.storage import StorageHealth
from mdsd.base.supervise import Supervisor
from mdsd.connectors import Gone, InvalidPayload, Observed, SourceUnavailable
from mdsd.hydration.fetching import Fetcher
from mdsd.hydration.writer import Writer
from mdsd.intake.journal import Journal
from store import TxReport

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 3600.0
#: finished units are removed from the journal in batches, at most this long after
COMPLETE_EVERY_SECONDS = 0.05

OnCommit = Callable[[TxReport], None]
#: the reader of a source whose events carry their content: a unit's queued raw events ->
#: what they say (``mdsd.connectors.openlineage.Lineage``); raises ``SourceUnavailable``
#: when what it needs to say it (identity, for owners) cannot answer
Carried = Callable[[Sequence[str]], Awaitable[list[Observed]]]


@dataclass(slots=True)
class HydrationStats:
    hydrated: int = 0
    unchanged: int = 0
    stale: int = 0
    deleted: int = 0
    failures: int = 0
    dead_lettered: int = 0
    #: seconds spent per stage, for the end-to-end benchmark's breakdown: ``fetch`` (the
    #: source's answer, normalized, owners resolved) and ``write`` (the transaction)
    seconds: dict[str, float] = field(default_factory=lambda: {"fetch": 0.0, "write": 0.0})

    def to_json(self) -> dict[str, object]:
        return {
            "hydrated": self.hydrated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "deleted": self.deleted,
            "failures": self.failures,
            "dead_lettered": self.dead_lettered,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


class Hydrator:
    def __init__(
        self,
        journal: Journal,
        fetcher: Fetcher,
        writer: Writer,
        on_commit: OnCommit,
        *,
        workers: int,
        source_limits: Mapping[str, int] | None = None,
        retry_seconds: float = 5.0,
        storage: StorageHealth | None = None,
        supervisor: Supervisor | None = None,
        carried: Mapping[str, Carried] | None = None,
    ) -> None:
        """``source_limits``: the most units of each source hydrating at once (its
        concurrency); a source not named gets one at a time. ``storage`` pauses the
        workers while the disk fails; ``supervisor`` runs them (restarted if one dies);
        ``carried``: by source key, the readers of sources whose events are their content,
        written from the journal without a fetch."""
        self.journal = journal
        self.fetcher = fetcher
        self.writer = writer
        self.on_commit = on_commit
        self.carried = dict(carried or {})
        self.workers = workers
        self.retry_seconds = retry_seconds
        self.stats = HydrationStats()
        self._limits = dict(source_limits or {})
        self._queues: dict[str, deque[tuple[int, str]]] = {}  # source -> (arrival, unit)
        self._arrivals = itertools.count()
        self._busy: Counter[str] = Counter()  # units in flight per source
        self._wanted: dict[str, tuple[str, int]] = {}  # unit -> (source, newest seq)
        self._inflight: set[str] = set()
        self._delayed: dict[str, asyncio.TimerHandle] = {}
        self._done: list[tuple[str, int]] = []
        self._ok_units: list[tuple[str, str]] = []
        self._fresh: set[str] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()  # workers with nothing to do
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.storage = storage or StorageHealth(None)
        self.storage.on_resume(self._wake_all)
        self.supervisor = supervisor or Supervisor()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> int:
        """Resume the journal's pending work and start the workers. Returns units resumed."""
        pending = await self.journal.pending()
        for source, unit, seq in pending:
            self.schedule(source, unit, seq)
        self._tasks = [
            self.supervisor.spawn(self._work, f"hydrate-{i}") for i in range(self.workers)
        ]
        self._tasks.append(self.supervisor.spawn(self._complete_loop, "hydrate-complete"))
        return len(pending)

    async def stop(self) -> None:
        """Stop taking work; what is unfinished stays in the journal for the next start."""
        self._stopping = True
        for handle in self._delayed.values():
            handle.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self._flush_done()
        except StorageFault as fault:  # harmless: read again at the next start
            log.warning("finished units stay queued for the next start: %s", fault)

    # -- scheduling ---------------------------------------------------------------------------

    def take(self, units: Iterable[tuple[str, str, int]], fresh: bool) -> None:
        """Intake's hand-over: (source, unit, journal seq) durable in the journal, scheduled."""
        for source, unit, seq in units:
            self.schedule(source, unit, seq, fresh=fresh)

    def schedule(self, source: str, unit: str, seq: int, *, fresh: bool = True) -> None:
        """Ask for ``unit`` to be hydrated; coalesces with work already pending for it.

        ``fresh`` work (an event said the unit changed) bypasses the response cache;
        enrichment's work may reuse a response ingestion fetched moments ago.
        """
        if fresh:
            self._fresh.add(unit)
        previous = self._wanted.get(unit)
        self._wanted[unit] = (source, max(seq, previous[1] if previous else 0))
        if previous is None and unit not in self._inflight and unit not in self._delayed:
            self._push(source, unit)
        self._idle.clear()

    def _push(self, source: str, unit: str) -> None:
        self._queues.setdefault(source, deque()).append((next(self._arrivals), unit))
        self._wake_one()

    def _wake_one(self) -> None:
        """Wake one idle worker: a new unit or a freed slot is work for one, not for all."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        """Wake every idle worker (the disk is back: all of them have work again)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _next_unit(self) -> str | None:
        """The oldest queued unit whose source has a free slot; none while writing is
        paused by a storage fault."""
        if not self.storage.ok:
            return None
        oldest: deque[tuple[int, str]] | None = None
        for source, queue in self._queues.items():
            if (
                queue
                and self._busy[source] < self._limits.get(source, 1)
                and (oldest is None or queue[0][0] < oldest[0][0])
            ):
                oldest = queue
        return None if oldest is None else oldest.popleft()[1]

    def by_source(self) -> dict[str, dict[str, int]]:
        """Units waiting and in flight per source, for ``mds status``: which source a
        backfill is waiting on. Units held back by a retry backoff are not queued."""
        return {
            source: {"queued": len(self._queues.get(source, ())), "in_flight": self._busy[source]}
            for source in sorted(self._queues.keys() | {s for s, n in self._busy.items() if n})
        }

    def pending_of(self, source: str) -> int:
        """Units of ``source`` waiting (queued or held back by a retry) or in flight."""
        return sum(1 for s, _ in self._wanted.values() if s == source) + self._busy[source]

    @property
    def pending_units(self) -> int:
        return len(self._wanted) + len(self._inflight)

    @property
    def is_idle(self) -> bool:
        return not self._wanted and not self._inflight and not self._done

    async def wait_idle(self) -> None:
        while not self.is_idle:
            self._idle.clear()
            await self._idle.wait()

    def _maybe_idle(self) -> None:
        if self.is_idle:
            self._idle.set()

    # -- workers ------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            while (unit := self._next_unit()) is None:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
            wanted = self._wanted.pop(unit, None)
            if wanted is None:
                continue
            source, seq = wanted
            self._busy[source] += 1
            self._inflight.add(unit)
            try:
                await self._hydrate(source, unit, seq)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must survive anything one unit does
                await self._failed(source, unit, seq, exc)
            finally:
                self._busy[source] -= 1
                self._inflight.discard(unit)
                if unit in self._wanted and unit not in self._delayed:
                    self._push(source, unit)
                elif self._queues.get(source):
                    self._wake_one()  # a slot of ``source`` is free for its next unit
                self._maybe_idle()

    async def _failed(self, source: str, unit: str, seq: int, exc: Exception) -> None:
        """A unit's hydration raised: a bug or bad data is a dead letter, but a storage
        fault is ours, not the unit's: it stays queued, and the workers pause."""
        fault = storage_fault(exc)
        if fault is None:
            log.exception("hydrating %s failed unexpectedly", unit, exc_info=exc)
            try:
                await self._dead_letter(source, unit, seq, f"hydration of {unit} failed: {exc!r}")
                return
            except Exception as again:
                fault = storage_fault(again)
                if fault is None:
                    raise
        self._keep(source, unit, seq)
        self.storage.report("hydration", fault)

    def _keep(self, source: str, unit: str, seq: int) -> None:
        """Want ``unit`` again (it is still in the journal): taken once work resumes."""
        previous = self._wanted.get(unit)
        self._wanted[unit] = (source, max(seq, previous[1] if previous else 0))

    async def _hydrate(self, source: str, unit: str, seq: int) -> None:
        if source in self.carried:
            await self._merge(source, unit, seq)
            return
        if source not in self.fetcher.sources:
            await self._dead_letter(source, unit, seq, f"source {source!r} is not configured")
            return
        started = time.perf_counter()
        fresh = unit in self._fresh
        self._fresh.discard(unit)
        try:
            fetched = await self.fetcher.fetch(source, unit, fresh=fresh)
        except SourceUnavailable as exc:
            self.stats.seconds["fetch"] += time.perf_counter() - started
            await self._retry_later(source, unit, seq, str(exc))
            return
        except InvalidPayload as exc:
            await self._dead_letter(
                source, unit, seq, f"{source} gave no usable answer for {unit}: {exc}"
            )
            return
        fetched_at = time.perf_counter()
        self.stats.seconds["fetch"] += fetched_at - started
        cause = {"origin": "hydration", "source": source, "unit": unit, "seq": seq}
        result = fetched.result
        outcome = self.writer.write(result, fetched.owners, cause)
        self.stats.seconds["write"] += time.perf_counter() - fetched_at
        if outcome.stale:
            self.stats.stale += 1
        elif outcome.report is None and not outcome.series:
            self.stats.unchanged += 1
        elif isinstance(result, Gone):
            self.stats.deleted += 1
        else:
            self.stats.hydrated += 1
        for report in [outcome.report, *outcome.series]:
            if report is not None:
                self.on_commit(report)
        self._done.append((unit, seq))
        self._ok_units.append((source, unit))

    async def _merge(self, source: str, unit: str, seq: int) -> None:
        """A unit of a source whose events are its content: its queued events, merged."""
        started = time.perf_counter()
        try:
            observed = await self.carried[source](await self.journal.carried(unit, seq))
        except SourceUnavailable as exc:
            await self._retry_later(source, unit, seq, str(exc))
            return
        except InvalidPayload as exc:
            await self._dead_letter(source, unit, seq, str(exc))
            return
        cause = {"origin": "hydration", "source": source, "unit": unit, "seq": seq}
        reports = self.writer.observe(observed, cause)
        self.stats.seconds["write"] += time.perf_counter() - started
        if reports:
            self.stats.hydrated += 1
        else:
            self.stats.unchanged += 1
        for report in reports:
            self.on_commit(report)
        self._done.append((unit, seq))
        self._ok_units.append((source, unit))

    async def _retry_later(self, source: str, unit: str, seq: int, reason: str) -> None:
        self.stats.failures += 1
        delays: list[float] = []

        def backoff(failures: int) -> float:
            """Exponential with jitter, capped: the source gets room to recover."""
            base = min(self.retry_seconds * 2 ** (failures - 1), MAX_RETRY_SECONDS)
            delays.append(base * random.uniform(0.5, 1.0))
            return delays[-1]

        failures = await self.journal.record_failure(source, unit, reason, backoff)
        delay = delays[-1]
        # an entity we have never read still gets a page (a stub) showing why it is missing
        stub = self.writer.ensure_stubs(
            [unit], {"origin": "hydration", "unit": unit, "failed": reason}
        )
        if stub is not None:
            self.on_commit(stub)
        log.warning(
            "%s unavailable for %s (%s); retry %d in %.1fs", source, unit, reason, failures, delay
        )
        self._keep(source, unit, seq)

        def release() -> None:
            self._delayed.pop(unit, None)
            if unit in self._wanted and unit not in self._inflight:
                self._push(source, unit)

        self._delayed[unit] = asyncio.get_running_loop().call_later(delay, release)

    async def _dead_letter(self, source: str, unit: str, seq: int, reason: str) -> None:
        raw = json.dumps({"source": source, "unit": unit, "seq": seq})
        await self.journal.dead_letter([(reason, raw)], origin="hydration")
        self.stats.dead_lettered += 1
        self._done.append((unit, seq))

    # -- completion ---------------------------------------------------------------------------

    async def _complete_loop(self) -> None:
        while True:
            await asyncio.sleep(COMPLETE_EVERY_SECONDS)
            try:
                with self.storage.watch("hydration"):
                    await self._flush_done()
            except StorageFault:  # the units stay done, to be completed once it clears
                await self.storage.wait_ok()
            self._maybe_idle()

    async def _flush_done(self) -> None:
        if self._done:
            # dropped from _done only once the journal has them: until then the daemon is
            # not idle, or `wait --idle` could answer while `status` still counts them pending
            done = list(self._done)
            await self.journal.complete(done)
            self._done = self._done[len(done) :]
        if self._ok_units:
            ok = list(self._ok_units)
            await self.journal.record_success(ok)
            self._ok_units = self._ok_units[len(ok) :]
