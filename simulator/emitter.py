"""Delivers thin events to a daemon: first one per entity, then a living stream of changes.

Three sinks, matching how events enter mds (contract 2.2): the daemon's Unix socket
(``POST /v1/events``, JSON lines), its inbox directory (``.jsonl`` files, renamed in
atomically) and a Python callback. Each event gets an ``event_id`` (duplicates made by chaos
keep theirs) and an ``emitted_at``. A sink that is down is retried with backoff, so a daemon
may start after the simulator.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from simulator.chaos import Chaos, EventChaos
from simulator.records import Event
from simulator.world import World

log = logging.getLogger(__name__)
T = TypeVar("T")

#: backoff between deliveries to a sink that is down, seconds (a daemon starting after the
#: simulator gets its first events within _RETRY_MOST of listening)
_RETRY_FIRST, _RETRY_MOST = 0.1, 2.0


class Sink(Protocol):
    """Somewhere events go. ``send`` raises ``OSError`` or ``httpx.HTTPError`` when it fails."""

    async def send(self, events: list[dict[str, Any]]) -> None: ...

    async def aclose(self) -> None: ...


def _json_lines(events: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()


class SocketSink:
    """``POST http://mds/v1/events`` on the daemon's Unix socket, one JSON event per line."""

    def __init__(self, socket_path: str | os.PathLike[str], timeout_s: float = 30.0) -> None:
        self.socket_path = str(socket_path)
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=self.socket_path),
            base_url="http://mds",
            timeout=timeout_s,
        )

    async def send(self, events: list[dict[str, Any]]) -> None:
        response = await self._client.post(
            "/v1/events",
            content=_json_lines(events),
            headers={"content-type": "application/x-ndjson"},
        )
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


class InboxSink:
    """Drops ``.jsonl`` files into the daemon's inbox: written under a hidden temporary name in
    the same directory, then renamed, so the daemon never reads a partial file. Names sort in
    emission order."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prefix = f"sim-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self._files = itertools.count()

    async def send(self, events: list[dict[str, Any]]) -> None:
        name = f"{self._prefix}-{next(self._files):08d}.jsonl"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(_json_lines(events))
        os.replace(temporary, self.directory / name)

    async def aclose(self) -> None:
        """Nothing to release."""


class CallbackSink:
    """Hands each batch to a function (sync or async), e.g. a test collecting events."""

    def __init__(self, callback: Callable[[list[dict[str, Any]]], Awaitable[None] | None]) -> None:
        self._callback = callback

    async def send(self, events: list[dict[str, Any]]) -> None:
        result = self._callback(events)
        if inspect.isawaitable(result):
            await result

    async def aclose(self) -> None:
        """Nothing to release."""


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class Emitter:
    """Feeds a sink with a world's events, perturbed by the chaos knobs.

    ``run()`` emits one event per entity, then mutates the world at ``rate`` events per
    second until ``stop()``. ``publish()`` delivers events of changes made elsewhere (e.g.
    ``POST /_mutate``). Runs on the event loop that serves the world.
    """

    def __init__(
        self,
        world: World,
        sink: Sink,
        *,
        chaos: Chaos | None = None,
        rate: float = 2.0,
        batch_size: int = 1000,
    ) -> None:
        self.world = world
        self.sink = sink
        self.rate = rate
        self.batch_size = batch_size
        self._chaos = EventChaos(chaos or Chaos())
        self._stopping = asyncio.Event()
        self._ids = itertools.count(1)
        self._id_prefix = f"sim-{secrets.token_hex(4)}"  # ids never collide across runs
        self._sink_down = False
        self.counts: Counter[str] = Counter()

    @property
    def stats(self) -> dict[str, int]:
        """``emitted``, ``batches``, ``mutations``, ``send_retries``, ``refused``, and the
        injected chaos (``dropped``, ``duplicated``, ``reordered``)."""
        return {**self.counts, **self._chaos.injected}

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, *, initial: bool = True) -> None:
        """Emit every entity once (if ``initial``), then the living stream until stopped."""
        if initial:
            for batch in _batches(self.world.initial_events(), self.batch_size):
                if self._stopping.is_set():
                    return
                await self.publish(batch)
        while self.rate > 0 and not self._stopping.is_set():
            events = self.world.mutate()
            self.counts["mutations"] += 1
            await self.publish(events)
            await self._pause(len(events) / self.rate)
        await self._deliver(self._chaos.flush())

    async def publish(self, events: list[Event]) -> None:
        """Stamp the events, perturb them as chaos says, and deliver them."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        stamped = [
            {**event, "event_id": f"{self._id_prefix}-{next(self._ids)}", "emitted_at": now}
            for event in events
        ]
        await self._deliver(self._chaos.apply(stamped))

    async def _deliver(self, events: list[dict[str, Any]]) -> None:
        for batch in _batches(events, self.batch_size):
            if await self._send(batch):
                self.counts["emitted"] += len(batch)
                self.counts["batches"] += 1

    async def _send(self, batch: list[dict[str, Any]]) -> bool:
        """Send one batch, retrying while the sink is unavailable; whether it was accepted.

        A batch the daemon refuses (a 4xx other than 429) is not retried: it never would be
        accepted, and it would block every later event.
        """
        delay = _RETRY_FIRST
        while True:
            try:
                await self.sink.send(batch)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status != 429:
                    log.error("event sink refused %d events: %s", len(batch), exc)
                    self.counts["refused"] += len(batch)
                    return False
                self._note_down(exc)
            except (OSError, httpx.HTTPError) as exc:
                self._note_down(exc)
            else:
                if self._sink_down:
                    log.info("event sink is back")
                    self._sink_down = False
                return True
            self.counts["send_retries"] += 1
            if await self._pause(delay):
                log.warning("emitter stopped: %d events undelivered", len(batch))
                return False
            delay = min(delay * 2, _RETRY_MOST)

    def _note_down(self, exc: Exception) -> None:
        if not self._sink_down:  # once per outage, not once per retry
            log.warning("event sink unavailable (%s); retrying", exc)
            self._sink_down = True

    async def _pause(self, seconds: float) -> bool:
        """Sleep, cut short by ``stop()``; whether the emitter is stopping."""
        try:
            async with asyncio.timeout(seconds):  # not wait_for: it can swallow a cancel
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True
