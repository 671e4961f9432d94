"""The loop every bus shares: fetch a batch, persist it through intake, then acknowledge it.

An adapter (Kafka, SQS) only knows its broker: how to fetch, to keep a batch leased while
it is persisted, to acknowledge it, and to pause. Acknowledging happens outside the lease:
a broker may hold a commit until a rebalance completes, and the rebalance waits for the
lease. This module owns the order that makes
delivery at-least-once: a batch is acknowledged only after ``Intake.submit`` has returned,
a batch that could not be persisted is retried rather than skipped, and nothing is fetched
while the intake queue is too deep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from mds.wire.moments import iso_epoch
from mdsd.intake.buses.backpressure import Backpressure
from mdsd.intake.doors import IntakeResult

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
#: how long closing may take (a last commit, leaving the group) before shutdown goes on
CLOSE_TIMEOUT_SECONDS = 10.0


@dataclass(slots=True)
class Message:
    """One broker message: its body (an event, or a JSON array or lines of them), where it
    came from (the dead letters' ``origin``) and the adapter's handle to acknowledge it."""

    body: bytes
    origin: str
    handle: Any


class Submitter(Protocol):
    async def submit(self, raw: bytes, origin: str) -> IntakeResult: ...


class Adapter(Protocol):
    """What a broker client does for the shared loop."""

    kind: str

    async def connect(self) -> None:
        """Join the broker; raising makes the loop retry with backoff."""

    async def close(self) -> None:
        """Acknowledge what is durable and leave the broker cleanly."""

    async def fetch(self) -> list[Message]:
        """One poll; an empty list when nothing arrived in the poll's wait."""

    def holding(self, batch: Sequence[Message]) -> AbstractAsyncContextManager[None]:
        """Keep ``batch`` leased to this consumer while it is being persisted."""

    def persisted(self, batch: Sequence[Message], rejected: set[int]) -> None:
        """Note, still under the lease, that ``batch`` is durable; ``rejected`` are the
        positions of messages intake dead-lettered."""

    async def acknowledge(self) -> None:
        """Tell the broker about everything persisted so far (commit, delete). A failure
        is logged and retried with the next batch: at worst a duplicate, never a loss."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    async def idle(self) -> None:
        """Wait a moment while paused, staying a live member of the broker's group."""

    async def status(self) -> dict[str, Any]: ...


def _one_line_object(body: bytes) -> bool:
    """Can this body share a JSON-lines write with others and come back as one event?"""
    if b"\n" in body or b"\r" in body or not body.lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(body.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError):
        return False


async def submit_batch(intake: Submitter, batch: Sequence[Message]) -> tuple[int, set[int]]:
    """Persist ``batch`` in as few durable writes as possible.

    Bodies that are one JSON object on one line are joined as JSON lines, one write per
    origin; any other body (not JSON, not UTF-8, an array, several lines) goes alone so
    intake judges it exactly as it arrived. Returns (events accepted, positions in
    ``batch`` of messages with a rejected event).
    """
    lines: dict[str, list[int]] = {}
    alone: list[int] = []
    for position, message in enumerate(batch):
        if _one_line_object(message.body):
            lines.setdefault(message.origin, []).append(position)
        else:
            alone.append(position)
    accepted = 0
    rejected: set[int] = set()
    for origin, positions in lines.items():
        result = await intake.submit(b"\n".join(batch[p].body for p in positions), origin)
        accepted += result.accepted
        rejected |= {positions[r["index"]] for r in result.rejected}
    for position in alone:
        result = await intake.submit(batch[position].body, batch[position].origin)
        accepted += result.accepted
        if result.rejected:
            rejected.add(position)
    return accepted, rejected


class Bus:
    """Runs one adapter until cancelled, and reports on it for ``mds status``."""

    def __init__(self, adapter: Adapter, intake: Submitter, pressure: Backpressure) -> None:
        self.adapter = adapter
        self.intake = intake
        self.pressure = pressure
        self.state = "starting"
        self.messages = 0
        self.accepted = 0
        self.rejected = 0
        self.batches = 0
        self.last_error: str | None = None
        self.last_batch_at: float | None = None

    @property
    def kind(self) -> str:
        return self.adapter.kind

    async def run(self) -> None:
        try:
            await self._connect()
            self.state = "consuming"
            while True:
                await self._respect_pressure()
                batch = await self._fetch()
                if batch:
                    await self._deliver(batch)
        finally:
            self.state = "stopped"
            try:
                await asyncio.wait_for(self.adapter.close(), CLOSE_TIMEOUT_SECONDS)
            except Exception as exc:  # shutdown goes on; unacknowledged work is redelivered
                log.warning("%s: closing failed: %s", self.kind, exc)

    async def _connect(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        while True:
            try:
                await self.adapter.connect()
                log.info("%s: connected", self.kind)
                return
            except Exception as exc:
                delay = await self._failed("connecting", exc, delay)

    async def _respect_pressure(self) -> None:
        if not self.pressure.should_pause():
            return
        log.info("%s: paused, %d units queued", self.kind, self.pressure.depth())
        self.state = "paused"
        self.adapter.pause()
        while not self.pressure.may_resume():
            await self.adapter.idle()
        self.adapter.resume()
        self.state = "consuming"
        log.info("%s: resumed, %d units queued", self.kind, self.pressure.depth())

    async def _fetch(self) -> list[Message]:
        delay = BACKOFF_FIRST_SECONDS
        while True:
            try:
                batch = await self.adapter.fetch()
                self.state = "consuming"
                return batch
            except Exception as exc:
                delay = await self._failed("fetching", exc, delay)

    async def _deliver(self, batch: list[Message]) -> None:
        """Persist, then acknowledge; a failure retries the same batch, never a later one."""
        delay = BACKOFF_FIRST_SECONDS
        while True:
            try:
                async with self.adapter.holding(batch):
                    accepted, rejected = await submit_batch(self.intake, batch)
                    self.adapter.persisted(batch, rejected)
                break
            except Exception as exc:
                delay = await self._failed("persisting a batch", exc, delay)
        try:
            await self.adapter.acknowledge()
        except Exception as exc:
            self.last_error = f"acknowledging: {exc!r}"
            log.warning(
                "%s: acknowledging failed (%r); retried with the next batch", self.kind, exc
            )
        self.state = "consuming"
        self.batches += 1
        self.messages += len(batch)
        self.accepted += accepted
        self.rejected += len(rejected)
        self.last_batch_at = time.time()

    async def _failed(self, doing: str, exc: Exception, delay: float) -> float:
        """Log, wait ``delay`` and return the next, longer one."""
        self.state = f"retrying ({doing})"
        self.last_error = f"{doing}: {exc!r}"
        log.warning("%s: %s failed (%r); retrying in %.1fs", self.kind, doing, exc, delay)
        await asyncio.sleep(delay)
        return min(delay * 2, BACKOFF_MAX_SECONDS)

    async def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "messages": self.messages,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "batches": self.batches,
            "last_batch_at": iso_epoch(self.last_batch_at),
            "last_error": self.last_error,
            "backpressure": self.pressure.to_json(),
            **await self.adapter.status(),
        }
