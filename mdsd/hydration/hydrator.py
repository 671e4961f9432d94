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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mdsd.base.faults import StorageFault, storage_fault
from mdsd.base.storage import StorageHealth
from mdsd.base.supervise import Supervisor
from mdsd.connectors import Gone, Hydrated, InvalidPayload, Observed, SourceUnavailable
from mdsd.hydration.fetching import Fetched, Fetcher
from mdsd.hydration.writer import WriteOutcome, Writer
from mdsd.intake.journal import Journal
from store import TxReport

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 3600.0
#: finished units are removed from the journal in batches, at most this long after
COMPLETE_EVERY_SECONDS = 0.05

OnCommit = Callable[[TxReport], None]
#: the most units of a source whose events carry their content merged at once: together
#: they are a few transactions rather than one per event (``mdsd.hydration.merging``);
#: more would hold the event loop longer at a time, the doors waiting
MERGE_UNITS = 128
#: while the doors are taking input, a merge waits, up to this long, before it takes its
#: units: the senders wait on acknowledgement, and a merge holds the event loop for as
#: long as it writes (a burst's first part merged while its second was being judged
#: halved the rate a JSON-lines body was taken at). What arrives meanwhile joins the
#: merge, which costs less per event the larger it is. It bounds how much later than
#: without the wait a unit is merged, well within the second to queryable of contract 3.
GATHER_SECONDS = 0.1
#: how often a waiting merge looks whether the doors are still busy
_GATHER_STEP = 0.01


class Carried(Protocol):
    """The reader of a source whose events carry their content
    (``mdsd.connectors.openlineage.Lineage``)."""

    def read(self, events: Sequence[tuple[str, object]]) -> list[Observed]:
        """What one unit's queued events say, each (raw text, what the door made of it
        or ``None``); ``InvalidPayload`` if they cannot."""
        ...

    async def owned(self, observed: Sequence[Observed]) -> list[Observed]:
        """``observed`` with owners resolved; ``SourceUnavailable`` when what it needs to
        say them (identity) cannot answer."""
        ...


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
        #: whether intake is taking input now, when a merge then gathers for
        #: ``GATHER_SECONDS`` first (set by the composition root: intake hands work here)
        self.doors_busy: Callable[[], bool] = lambda: False
        self.workers = workers
        self.retry_seconds = retry_seconds
        self.stats = HydrationStats()
        self._limits = dict(source_limits or {})
        self._queues: dict[str, deque[tuple[int, str]]] = {}  # source -> (arrival, unit)
        self._arrivals = itertools.count()
        self._busy: Counter[str] = Counter()  # units in flight per source
        self._slots: Counter[str] = Counter()  # hydrations in flight per source (a merge
        # of several units of a carried source takes one slot)
        self._alone: set[str] = set()  # units a failed merge left to be merged by themselves
        self._wanted: dict[str, tuple[str, int]] = {}  # unit -> (source, newest seq)
        self._inflight: set[str] = set()
        self._delayed: dict[str, asyncio.TimerHandle] = {}
        self._done: list[tuple[str, int]] = []
        self._ok_units: list[tuple[str, str]] = []
        #: fetched units waiting for ``_write_pending``: (what was read, cause, its outcome)
        self._writes: list[tuple[Fetched, dict[str, Any], asyncio.Future[WriteOutcome]]] = []
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
                and self._slots[source] < self._limits.get(source, 1)
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
            batch = [(unit, seq)]
            self._slots[source] += 1
            self._busy[source] += 1
            self._inflight.add(unit)
            try:
                if source in self.carried:
                    if unit not in self._alone:
                        await self._gather()
                        more = self._companions(source, MERGE_UNITS - 1)
                        self._busy[source] += len(more)
                        self._inflight.update(u for u, _ in more)
                        batch += more
                    await self._merge(source, batch)
                else:
                    await self._hydrate(source, unit, seq)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must survive anything one unit does
                for failed, upto in batch:
                    await self._failed(source, failed, upto, exc)
            finally:
                self._slots[source] -= 1
                self._busy[source] -= len(batch)
                for u, _ in batch:
                    self._inflight.discard(u)
                    if u in self._wanted and u not in self._delayed:
                        self._push(source, u)
                if self._queues.get(source):
                    self._wake_one()  # a slot of ``source`` is free for its next unit
                self._maybe_idle()

    async def _gather(self) -> None:
        """Let the doors take their input first, for at most ``GATHER_SECONDS``."""
        until = time.monotonic() + GATHER_SECONDS
        while self.doors_busy() and time.monotonic() < until:
            await asyncio.sleep(_GATHER_STEP)

    def _companions(self, source: str, most: int) -> list[tuple[str, int]]:
        """Up to ``most`` more queued units of ``source``, oldest first, to merge with the
        one taken; a unit left to be merged by itself stays queued."""
        queue = self._queues.get(source)
        taken: list[tuple[str, int]] = []
        kept: list[tuple[int, str]] = []
        while queue and len(taken) < most:
            arrival, unit = queue.popleft()
            if unit in self._alone:
                kept.append((arrival, unit))
                continue
            wanted = self._wanted.pop(unit, None)
            if wanted is not None:  # else already taken: a stale entry
                taken.append((unit, wanted[1]))
        if queue is not None:
            queue.extendleft(reversed(kept))
        return taken

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
        self.stats.seconds["fetch"] += time.perf_counter() - started
        cause = {"origin": "hydration", "source": source, "unit": unit, "seq": seq}
        result = fetched.result
        outcome = await self._written(fetched, cause)
        if outcome.stale:
            self.stats.stale += 1
        elif outcome.report is None and not outcome.series:
            self.stats.unchanged += 1
        elif isinstance(result, Gone):
            self.stats.deleted += 1
        else:
            self.stats.hydrated += 1
        self._done.append((unit, seq))
        self._ok_units.append((source, unit))

    def _written(self, fetched: Fetched, cause: dict[str, Any]) -> asyncio.Future[WriteOutcome]:
        """``fetched`` written, with the other units fetched by the time the loop gets to
        it (``_write_pending``)."""
        written: asyncio.Future[WriteOutcome] = asyncio.get_running_loop().create_future()
        self._writes.append((fetched, cause, written))
        if len(self._writes) == 1:
            asyncio.get_running_loop().call_soon(self._write_pending)
        return written

    def _write_pending(self) -> None:
        """Write the units fetched since the last call: several in one transaction where
        they allow it (``Writer.write_units``), each by itself otherwise, or when their
        transaction failed other than by storage, so that what one unit brings fails it
        alone. Every transaction is handed on once, in order. Whatever goes wrong, every
        unit's outcome is settled: its worker waits on it."""
        pending, self._writes = self._writes, []
        started = time.perf_counter()
        try:
            self._write_all(pending)
        except Exception as exc:
            for _, _, written in pending:
                if not written.done():
                    written.set_exception(exc)
        self.stats.seconds["write"] += time.perf_counter() - started

    def _write_all(
        self, pending: list[tuple[Fetched, dict[str, Any], asyncio.Future[WriteOutcome]]]
    ) -> None:
        outcomes: list[WriteOutcome] | None = None
        units = [(f.result, f.owners) for f, _, _ in pending if isinstance(f.result, Hydrated)]
        if 1 < len(pending) == len(units):
            cause = {"origin": "hydration", "units": sorted(c["unit"] for _, c, _ in pending)}
            try:
                outcomes = self.writer.write_units(units, cause)
            except Exception as exc:
                if storage_fault(exc) is not None:
                    raise  # ours, not the units': each is kept for when writing resumes
                log.warning("writing %d units together failed (%r); one by one", len(units), exc)
        if outcomes is None:
            outcomes = []
            for fetched, cause, written in pending:
                try:
                    outcome = self.writer.write(fetched.result, fetched.owners, cause)
                except Exception as exc:
                    if not written.done():
                        written.set_exception(exc)
                    outcome = WriteOutcome(report=None)
                outcomes.append(outcome)
        handed: set[int] = set()
        for (_, _, written), outcome in zip(pending, outcomes, strict=True):
            for report in [outcome.report, *outcome.series]:
                if report is not None and report.tx not in handed:
                    handed.add(report.tx)
                    self.on_commit(report)
            if not written.done():
                written.set_result(outcome)

    async def _merge(self, source: str, batch: list[tuple[str, int]]) -> None:
        """Units of a source whose events are their content: their queued events, read in
        one go and merged together (``Writer.observe``)."""
        started = time.perf_counter()
        reader = self.carried[source]
        queued = await self.journal.carried(batch)
        observed: list[Observed] = []
        merged: list[tuple[str, int]] = []
        for unit, seq in batch:
            try:
                observed += reader.read(queued[unit])
            except InvalidPayload as exc:
                await self._dead_letter(source, unit, seq, str(exc))
                continue
            merged.append((unit, seq))
        cause = {
            "origin": "hydration",
            "source": source,
            "units": sorted(unit for unit, _ in merged),
        }
        try:
            reports = self.writer.observe(await reader.owned(observed), cause)
        except SourceUnavailable as exc:
            for unit, seq in merged:
                await self._retry_later(source, unit, seq, str(exc))
            return
        except Exception as exc:
            await self._merge_failed(source, merged, exc)
            return
        self.stats.seconds["write"] += time.perf_counter() - started
        if reports:
            self.stats.hydrated += len(merged)
        else:
            self.stats.unchanged += len(merged)
        for report in reports:
            self.on_commit(report)
        for unit, seq in merged:
            self._alone.discard(unit)
            self._done.append((unit, seq))
            self._ok_units.append((source, unit))

    async def _merge_failed(
        self, source: str, merged: list[tuple[str, int]], exc: Exception
    ) -> None:
        """Merging units raised. Several are merged again one by one, so that what one
        unit brings fails it alone (what was written before the failure is restated then,
        which changes nothing); a unit by itself has failed."""
        if len(merged) > 1 and storage_fault(exc) is None:
            log.warning(
                "merging %d units of %s failed (%r); merging them one by one",
                len(merged),
                source,
                exc,
            )
            for unit, seq in merged:
                self._alone.add(unit)
                self._keep(source, unit, seq)
            return
        for unit, seq in merged:
            self._alone.discard(unit)
            await self._failed(source, unit, seq, exc)

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
