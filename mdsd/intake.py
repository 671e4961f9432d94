"""Intake: raw input from any door (socket, CLI, inbox files) -> validated, durable work.

Valid events are committed to the journal before the caller hears "accepted"; invalid
ones are committed to the dead letters with their reason. Nothing is acknowledged before
it is on disk, and nothing is silently dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import watchfiles

from mdsd.events import Accepted, Rejected, parse_events
from mdsd.hydrator import Hydrator
from mdsd.journal import DeadLetter, Journal, QueuedEvent

log = logging.getLogger(__name__)

INBOX_SUFFIXES = (".json", ".jsonl")
#: work from these origins may be served from the sources' short-lived response cache
CACHED_ORIGINS = frozenset({"enrichment"})


@dataclass(slots=True)
class IntakeResult:
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected}


class Intake:
    def __init__(
        self, journal: Journal, hydrator: Hydrator, configured_sources: Collection[str]
    ) -> None:
        self.journal = journal
        self.hydrator = hydrator
        self.sources = set(configured_sources)
        self.received = 0
        self._lock = asyncio.Lock()

    async def submit(self, raw: bytes, origin: str) -> IntakeResult:
        """Validate, persist and schedule; returns once everything accepted is durable."""
        accepted: list[Accepted] = []
        rejected: list[tuple[int, str, str]] = []
        for item in parse_events(raw, origin):
            if isinstance(item, Rejected):
                rejected.append((item.index, item.reason, item.raw))
            elif item.source not in self.sources:
                reason = (
                    f"event_type {item.event_type!r} belongs to source {item.source!r}, "
                    f"which is not configured (add a [sources.{item.source}] table)"
                )
                rejected.append((item.index, reason, item.raw))
            else:
                accepted.append(item)
        result = IntakeResult(accepted=len(accepted))
        result.rejected = [{"index": i, "reason": reason} for i, reason, _ in rejected]
        await self.journal.dead_letter([(reason, raw) for _, reason, raw in rejected], origin)
        await self.enqueue(
            [QueuedEvent(a.source, a.target, a.event_type, a.event_id, a.raw) for a in accepted],
            origin,
        )
        self.received += len(accepted) + len(rejected)
        if rejected:
            log.info("%s: %d event(s) rejected, kept in dead letters", origin, len(rejected))
        return result

    async def enqueue(self, events: list[QueuedEvent], origin: str) -> None:
        """Persist work (events, or units enrichment and reconciliation want) and schedule it."""
        fresh = origin not in CACHED_ORIGINS
        for source, unit, seq in await self.journal.enqueue(events, origin):
            self.hydrator.schedule(source, unit, seq, fresh=fresh)

    async def redrive(self, letter: DeadLetter) -> IntakeResult:
        """Give a dead letter another chance: events are re-validated, units re-hydrated."""
        if letter.origin == "hydration":
            unit = json.loads(letter.raw)
            queued = QueuedEvent(unit["source"], unit["unit"], "redrive", None, letter.raw)
            await self.enqueue([queued], "redrive")
            return IntakeResult(accepted=1)
        return await self.submit(letter.raw.encode(), f"redrive:{letter.id}")

    # -- the inbox directory --------------------------------------------------------------------

    async def consume_file(self, path: Path) -> None:
        """Ingest one inbox file, then remove it: only after its events are durable."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return  # another pass already consumed it
        async with self._lock:
            if not path.exists():
                return
            result = await self.submit(raw, f"inbox:{path.name}")
            path.unlink(missing_ok=True)
        log.info(
            "inbox %s: %d accepted, %d rejected", path.name, result.accepted, len(result.rejected)
        )

    async def watch_inbox(self, inbox: Path) -> None:
        """Consume files already waiting, then every file that appears.

        Writers should create files under another name (or a dot-name) and rename them
        in, so a half-written file is never read; only ``.json``/``.jsonl`` names count.
        """
        inbox.mkdir(parents=True, exist_ok=True)
        await self._consume_waiting(inbox)
        async for _changes in watchfiles.awatch(inbox, debounce=50, step=20, recursive=False):
            await self._consume_waiting(inbox)

    async def _consume_waiting(self, inbox: Path) -> None:
        for path in sorted(inbox.iterdir()):
            if path.suffix in INBOX_SUFFIXES and not path.name.startswith(".") and path.is_file():
                try:
                    await self.consume_file(path)
                except OSError as exc:
                    log.error("inbox %s: %s", path.name, exc)
