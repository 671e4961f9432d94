"""Intake: raw input from any door (socket, CLI, inbox files) -> validated, durable work.

Valid events are committed to the journal before the caller hears "accepted"; invalid
ones are committed to the dead letters with their reason. Nothing is acknowledged before
it is on disk, and nothing is silently dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import watchfiles

from mdsd.base.faults import StorageFault
from mdsd.base.storage import StorageHealth
from mdsd.intake.events import (
    MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    Accepted,
    NumberedLine,
    Rejected,
    Result,
    kept_start,
    numbered_lines,
    parse_event,
    parse_events,
    parse_lineage_event,
    parse_lines,
    too_large,
)
from mdsd.intake.inbox_guard import Untrusted, open_inbox_file, set_aside
from mdsd.intake.journal import DeadLetter, Journal, QueuedEvent

log = logging.getLogger(__name__)

INBOX_SUFFIXES = (".json", ".jsonl")
#: an inbox file is read once unchanged for this long: one written in place rather than
#: renamed in is then whole, not taken (and unlinked) while its writer is mid-line
INBOX_SETTLE_SECONDS = 1.0
#: work from these origins may be served from the sources' short-lived response cache
CACHED_ORIGINS = frozenset({"enrichment"})
#: intake counts as busy this long after an input was queued: the gap between the parts
#: of one input sent in parts (``mds ingest``), or a sender's next request
QUIET_SECONDS = 0.02
#: a ``.jsonl`` inbox file is queued this many lines at a time (one durable write each)
INBOX_BATCH_LINES = 10_000
#: how much of an oversize line is read at a time while it is skipped
_SKIP_BYTES = 2**16

#: where intake hands work on once it is durable: the (source, unit, journal seq) just
#: queued, and whether they must be read fresh rather than from a short-lived cache
OnAccepted = Callable[[Sequence[tuple[str, str, int]], bool], None]


@dataclass(slots=True)
class IntakeResult:
    accepted: int = 0
    #: accepted events that redeliver one queued before (same ``event_id``, type and entity):
    #: acknowledged, not queued again
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}

    def add(self, other: IntakeResult) -> None:
        """Count in the result of the next part of the same input."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected


class Intake:
    """Every door's way in: validate, persist in the journal, then hand on to ``on_accepted``."""

    def __init__(
        self,
        journal: Journal,
        on_accepted: OnAccepted,
        configured_sources: Collection[str],
        *,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
        storage: StorageHealth | None = None,
    ) -> None:
        """``storage``: while it is paused by a storage fault every door refuses work (a
        ``StorageFault`` with the reason), and inbox files wait for it to resume."""
        self.journal = journal
        self.on_accepted = on_accepted
        self.sources = set(configured_sources)
        #: ``[intake]``: the largest input read whole, and the largest one event
        self.max_request_bytes = max_request_bytes
        self.max_event_bytes = max_event_bytes
        self.received = 0
        self._submitting = 0  # inputs being judged and queued now
        self._submitted = 0.0  # when the last one was (``time.monotonic``)
        self._lock = asyncio.Lock()
        self._recheck: asyncio.Task[None] | None = None
        self._inbox: Path | None = None
        self.storage = storage or StorageHealth(None)
        self.storage.on_resume(self._inbox_again)

    async def submit(self, raw: bytes, origin: str) -> IntakeResult:
        """Validate, persist and schedule; returns once everything accepted is durable."""
        return await self._submit(parse_events(raw, origin, self.max_event_bytes), origin)

    async def submit_lineage(self, raw: bytes, origin: str) -> IntakeResult:
        """One OpenLineage event, judged whole (``POST /api/v1/lineage``); returns once it
        is durable, or its dead letter is."""
        item: Result
        if len(raw) > self.max_event_bytes:
            reason = too_large("event", len(raw), "intake.max_event_bytes", self.max_event_bytes)
            item = Rejected(0, reason, kept_start(raw), origin)
        else:
            try:
                item = parse_lineage_event(raw.decode("utf-8-sig"), origin)
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8: byte {exc.start} ({exc.reason})"
                item = Rejected(0, reason, kept_start(raw), origin)
        return await self._submit([item], origin)

    async def submit_part(
        self, raw: bytes, origin: str, first_line: int, first_index: int
    ) -> IntakeResult:
        """One part of JSON lines sent in pieces (``mds ingest`` of a large file): its
        lines are numbered from ``first_line`` and its events from ``first_index``, so
        reasons and dead letters point into the whole input."""
        lines = numbered_lines(raw, first_line)
        return await self._submit(
            parse_lines(lines, origin, self.max_event_bytes, first_index), origin
        )

    @property
    def busy(self) -> bool:
        """Whether a door is taking input now, or took some within ``QUIET_SECONDS`` (the
        hydrator lets merging wait for it)."""
        return self._submitting > 0 or time.monotonic() - self._submitted < QUIET_SECONDS

    async def _submit(self, results: list[Result], origin: str) -> IntakeResult:
        self._submitting += 1
        try:
            return await self._submit_results(results, origin)
        finally:
            self._submitting -= 1
            self._submitted = time.monotonic()

    async def _submit_results(self, results: list[Result], origin: str) -> IntakeResult:
        accepted: list[Accepted] = []
        rejected: list[tuple[int, str, str]] = []
        for item in results:
            taken = self._take(item)
            if isinstance(taken, str):
                rejected.append((item.index, taken, item.raw))
            else:
                accepted.append(taken)
        result = IntakeResult(accepted=len(accepted))
        result.rejected = [{"index": i, "reason": reason} for i, reason, _ in rejected]
        self.storage.check()
        with self.storage.watch("intake"):
            await self.journal.dead_letter([(reason, raw) for _, reason, raw in rejected], origin)
        result.duplicates = len(accepted) - await self._queue(accepted, origin)
        self.received += len(accepted) + len(rejected)
        if rejected:
            log.info("%s: %d event(s) rejected, kept in dead letters", origin, len(rejected))
        return result

    def _take(self, item: Result) -> Accepted | str:
        """``item`` when it can be queued, else why not."""
        if isinstance(item, Rejected):
            return item.reason
        if item.source not in self.sources:
            return (
                f"event_type {item.event_type!r} belongs to source {item.source!r}, "
                f"which is not configured (add a [sources.{item.source}] table)"
            )
        return item

    async def _queue(self, accepted: list[Accepted], origin: str) -> int:
        events = [
            QueuedEvent(a.source, a.target, a.event_type, a.event_id, a.raw, a.content)
            for a in accepted
        ]
        return await self.enqueue(events, origin)

    async def enqueue(self, events: list[QueuedEvent], origin: str) -> int:
        """Persist work (events, or units enrichment and reconciliation want) and schedule it;
        returns how much was queued (redeliveries are not)."""
        self.storage.check()
        with self.storage.watch("intake"):
            queued = await self.journal.enqueue(events, origin)
        self.on_accepted(queued, origin not in CACHED_ORIGINS)
        return len(queued)

    async def redrive(self, letter: DeadLetter) -> IntakeResult:
        """Give a dead letter another chance: events are re-validated, units re-hydrated.

        A dead letter is one input, judged whole; one refused again stays that dead letter
        (its id unchanged), with the reason it failed now."""
        if letter.origin == "hydration":
            unit = json.loads(letter.raw)
            queued = QueuedEvent(unit["source"], unit["unit"], "redrive", None, letter.raw)
            await self.enqueue([queued], "redrive")
            return IntakeResult(accepted=1)
        taken = self._take(parse_event(letter.raw, f"redrive:{letter.id}"))
        if not isinstance(taken, str):
            count = await self._queue([taken], taken.origin)
            return IntakeResult(accepted=1, duplicates=1 - count)
        # the same reason keeps where it was found ("line 3: ...")
        reason = letter.reason if letter.reason.endswith(taken) else taken
        await self.journal.restore_dead_letter(letter.id, reason)
        return IntakeResult(rejected=[{"index": 0, "reason": reason}])

    # -- the inbox directory --------------------------------------------------------------------

    async def consume_file(self, path: Path) -> None:
        """Ingest one inbox file, then remove it: only after its events are durable.

        A ``.jsonl`` file is never held whole: it is queued a batch of lines at a time, so
        after a crash mid-file it is read again from its start (the events queued already
        are read from their source again: no harm, and those with an ``event_id`` are
        recognized as redeliveries). A ``.json`` file is one input, read whole up to
        ``max_request_bytes``; a larger one is a dead letter."""
        origin = f"inbox:{path.name}"
        async with self._lock:
            try:
                stream = open_inbox_file(path)
            except FileNotFoundError:
                return  # another pass already consumed it
            except Untrusted as refused:
                set_aside(path, refused)
                return
            with stream:
                if path.suffix == ".jsonl":
                    result = await self._submit_lines(stream, origin)
                else:
                    result = await self._submit_document(stream, origin)
            path.unlink(missing_ok=True)
        log.info(
            "inbox %s: %d accepted, %d rejected", path.name, result.accepted, len(result.rejected)
        )

    async def _submit_document(self, stream: BinaryIO, origin: str) -> IntakeResult:
        raw = stream.read(self.max_request_bytes + 1)
        if len(raw) <= self.max_request_bytes:
            return await self.submit(raw, origin)
        size = os.fstat(stream.fileno()).st_size
        reason = too_large("file", size, "intake.max_request_bytes", self.max_request_bytes)
        reason += "; a .jsonl file (one event a line) is read line by line, at any size"
        await self.journal.dead_letter([(reason, kept_start(raw))], origin)
        self.received += 1
        return IntakeResult(rejected=[{"index": 0, "reason": reason}])

    async def _submit_lines(self, stream: BinaryIO, origin: str) -> IntakeResult:
        """JSON lines in batches of at most ``INBOX_BATCH_LINES`` lines and about
        ``max_request_bytes``, as a ``POST`` would bring them."""
        result = IntakeResult()
        batch: list[NumberedLine] = []
        size = 0
        for line in read_lines(stream, self.max_event_bytes):
            batch.append(line)
            size += len(line[1])
            if len(batch) < INBOX_BATCH_LINES and size < self.max_request_bytes:
                continue
            result.add(await self._submit_batch(batch, origin, result))
            batch, size = [], 0
        result.add(await self._submit_batch(batch, origin, result))
        return result

    async def _submit_batch(
        self, batch: list[NumberedLine], origin: str, before: IntakeResult
    ) -> IntakeResult:
        first = before.accepted + len(before.rejected)
        return await self._submit(parse_lines(batch, origin, self.max_event_bytes, first), origin)

    async def watch_inbox(self, inbox: Path) -> None:
        """Consume files already waiting, then every file that appears.

        Writers should create files under another name (or a dot-name) and rename them
        in; a file written in place is read once it has settled. Only ``.json``/``.jsonl``
        names count.
        """
        inbox.mkdir(parents=True, exist_ok=True)
        self._inbox = inbox
        try:
            await self._consume_waiting(inbox)
            async for _changes in watchfiles.awatch(inbox, debounce=50, step=20, recursive=False):
                await self._consume_waiting(inbox)
        finally:
            if self._recheck is not None:
                self._recheck.cancel()

    async def _consume_waiting(self, inbox: Path) -> None:
        unsettled: list[float] = []  # seconds until each file still changing may be read
        for path in inbox_files(inbox):
            try:
                age = time.time() - path.lstat().st_mtime
                if 0 <= age < INBOX_SETTLE_SECONDS:
                    unsettled.append(INBOX_SETTLE_SECONDS - age)
                else:
                    await self.consume_file(path)
            except StorageFault as fault:  # read again when the storage resumes
                log.warning("inbox %s: left in place: %s", path.name, fault)
                self.storage.report("intake", fault)
                return
            except OSError as exc:
                log.error("inbox %s: %s", path.name, exc)
            except Exception:  # one file must never stop the inbox: it stays, to retry
                log.exception("inbox %s: could not be ingested; left in place", path.name)
        if unsettled and (self._recheck is None or self._recheck.done()):
            self._recheck = asyncio.create_task(self._consume_after(inbox, min(unsettled)))

    def _inbox_again(self) -> None:
        """Storage is back: read the files a fault left in the inbox."""
        if self._inbox is not None and (self._recheck is None or self._recheck.done()):
            self._recheck = asyncio.create_task(self._consume_after(self._inbox, 0.0))

    async def _consume_after(self, inbox: Path, delay: float) -> None:
        """Look again once a file may have settled: no change may come to wake the watch."""
        await asyncio.sleep(delay)
        self._recheck = None
        await self._consume_waiting(inbox)


def read_lines(stream: BinaryIO, max_line: int) -> Iterator[NumberedLine]:
    """The lines of ``stream`` numbered from 1, without their ending, and each line's size.
    A line longer than ``max_line`` bytes is never held: only its start is, the rest is
    read past."""
    for number in itertools.count(1):
        line = stream.readline(max_line + 1)
        if not line:
            return
        size = len(line)
        tail = line[-2:]
        while not tail.endswith(b"\n") and size > max_line:
            rest = stream.readline(_SKIP_BYTES)
            if not rest:
                break
            size += len(rest)
            tail = (tail + rest)[-2:]
        ending = 2 if tail == b"\r\n" else 1 if tail.endswith(b"\n") else 0
        yield number, line[: len(line) - ending] if size == len(line) else line, size - ending


def inbox_files(inbox: Path) -> Iterator[Path]:
    """The entries of ``inbox`` named as event files: neither dot-names nor other suffixes,
    nor directories. Symlinks and others' files are listed too, so that they are refused
    (``open_inbox_file``) and set aside rather than sit there unexplained."""
    if not inbox.is_dir():
        return
    for path in sorted(inbox.iterdir()):
        if path.suffix not in INBOX_SUFFIXES or path.name.startswith("."):
            continue
        try:
            if not stat.S_ISDIR(path.lstat().st_mode):
                yield path
        except FileNotFoundError:
            continue
