"""Hydration reads in worker processes: HTTP and normalization off the daemon's event loop.

The daemon's loop also writes facts, indexes, enriches and answers queries. With every
source read on it too, a backfill was bound by that one core: the HTTP client alone costs
more CPU per event than the transaction does. ``ProcessFetcher`` runs the reads in worker
processes (``python -m mdsd.hydration.workers``), each a ``LocalFetcher`` with its own
connectors, and talks to each over its stdin and stdout in length-prefixed pickles: private
pipes between one program's own processes.

A unit always goes to the same worker, so that worker's response cache and request
coalescing serve it. Each source's concurrency, rate and cache limits are split among the
workers: together they never ask more of a source than ``[sources.KEY]`` allows.

A worker that dies fails its in-flight reads with ``SourceUnavailable`` (the hydrator
retries them with backoff) and is started again at the next read. So does one that hangs,
alive but silent (stopped with SIGSTOP, its loop blocked): a read that has not come back
within its source's ``timeout_seconds`` (the longest one answer may take) makes the daemon
ping the worker, and one that does not answer the ping within ``PING_TIMEOUT_SECONDS`` is
killed. A worker that answers is working (a read may wait for a slot, retry and back off)
and is left to finish. A worker exits when its stdin closes, so it never outlives the
daemon, even one killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import math
import os
import pickle
import signal
import struct
import sys
import time
import zlib
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from mdsd.base.logs import configure_logging
from mdsd.connectors import (
    Connector,
    InvalidPayload,
    SourcePolicy,
    SourceUnavailable,
    build_connectors,
)
from mdsd.hydration.fetching import Fetched, Fetcher, LocalFetcher, SourceStats

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
#: the call id of the worker's first answer: it is ready to fetch
_HELLO = 0
STARTUP_TIMEOUT_SECONDS = 60.0
#: a worker that keeps dying is started again at most this often
RESTART_INTERVAL_SECONDS = 1.0
STATS_TIMEOUT_SECONDS = 2.0
#: A worker whose event loop runs answers a ping at once, however many reads it is doing;
#: one silent this long is hung, and is killed.
PING_TIMEOUT_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 5.0
#: How much lower the workers' CPU priority is than the daemon's. The daemon's event loop is
#: the one serial stage (it writes, indexes and answers queries) while the workers are
#: many and latency tolerant; at equal priority the loop waited a fifth of its time for a
#: core the workers held, and a backfill ran 10-30% slower (bench/e2e_bench.py, A/B).
WORKER_NICENESS = 5
_BREAKER_ORDER = {"closed": 0, "half_open": 1, "open": 2}


def encode_frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or ``None`` at a clean end of the stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(await reader.readexactly(size))


class FrameWriter:
    """Frames written in one turn of the event loop leave in one pipe write.

    Waking the process at the other end costs more than the bytes: under load, dozens of
    calls (or answers) go out per turn, and batching them saved a tenth of the daemon's CPU.
    """

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self._frames: list[bytes] = []

    def send(self, message: object) -> None:
        if not self._frames:
            asyncio.get_running_loop().call_soon(self._flush)
        self._frames.append(encode_frame(message))

    def _flush(self) -> None:
        frames, self._frames = self._frames, []
        self._write(b"".join(frames))


def share_of(policy: SourcePolicy, workers: int) -> SourcePolicy:
    """One worker's part of a source's limits: the workers together stay within them."""
    return dataclasses.replace(
        policy,
        concurrency=math.ceil(policy.concurrency / workers),
        rate_per_second=policy.rate_per_second / workers,
        burst=math.ceil(policy.burst / workers),
        cache_max_entries=math.ceil(policy.cache_max_entries / workers),
    )


def merge_stats(parts: list[dict[str, object]]) -> dict[str, object]:
    """One source's stats from several clients: counters and gauges add up, the breaker
    shows the worst state, and ``last_error`` is one that a client still reports."""
    merged: dict[str, object] = {}
    for part in parts:
        for key, value in part.items():
            held = merged.get(key)
            if key == "state" and isinstance(held, str) and isinstance(value, str):
                merged[key] = max(held, value, key=lambda s: _BREAKER_ORDER.get(s, 0))
            elif isinstance(held, int) and isinstance(value, int) and not isinstance(value, bool):
                merged[key] = held + value
            elif key not in merged or value is not None:
                merged[key] = value
    return merged


class _Channel:
    """One worker process: calls out on its stdin, answers back on its stdout.

    A process that stops answering fails the calls waiting on it and nothing else: the
    process started after it gets a channel of its own.
    """

    def __init__(self, index: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.index = index
        self.process = process
        self.open = True
        self._calls = FrameWriter(process.stdin.write)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(_HELLO)
        self.hello = self._expect(next(self._ids))
        self.closing = False
        #: why the process was killed, for the calls it fails
        self._killed_for: str | None = None
        self._probe: asyncio.Task[None] | None = None
        #: per call with a deadline, the timer that checks on the worker when it is late
        self._overdue: dict[int, asyncio.TimerHandle] = {}
        self._reader = asyncio.create_task(self._read_answers(), name=f"fetch-worker-{index}")

    def _expect(self, call_id: int) -> asyncio.Future[Any]:
        answer = asyncio.get_running_loop().create_future()
        self._pending[call_id] = answer
        return answer

    async def call(self, op: str, args: tuple[Any, ...], deadline: float | None = None) -> Any:
        """The worker's answer. Past ``deadline`` seconds, and again each time as long, the
        worker is pinged; a hung one is killed, which fails this call."""
        call_id = next(self._ids)
        answer = self._expect(call_id)
        try:
            self._calls.send((call_id, op, args))
            if deadline is not None:
                self._watch(call_id, answer, deadline)
            return await answer
        finally:
            self._pending.pop(call_id, None)
            overdue = self._overdue.pop(call_id, None)
            if overdue is not None:
                overdue.cancel()

    def _watch(self, call_id: int, answer: asyncio.Future[Any], deadline: float) -> None:
        """Check on the worker when ``answer`` is ``deadline`` seconds late, and again each
        time as long. A timer, not ``asyncio.wait``: this is on every read, and a timer
        costs the loop a quarter as much."""

        def overdue() -> None:
            if answer.done():
                return
            self._check_alive()
            self._watch(call_id, answer, deadline)

        self._overdue[call_id] = asyncio.get_running_loop().call_later(deadline, overdue)

    def _check_alive(self) -> None:
        """One ping at a time, however many calls are overdue."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                await self.call("ping", ())
        except TimeoutError:
            if self.open:
                self._killed_for = (
                    f"hydration worker {self.index} (pid {self.process.pid}) did not answer "
                    f"within {PING_TIMEOUT_SECONDS:g}s; killed it as hung"
                )
                log.error("%s", self._killed_for)
                self.process.kill()
        except SourceUnavailable:
            pass  # it exited meanwhile: its calls have failed already

    def send_setup(self, setup: dict[str, Any]) -> None:
        self._calls.send(setup)

    async def _read_answers(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while (message := await read_frame(stdout)) is not None:
                call_id, ok, value = message
                answer = self._pending.pop(call_id, None)
                if answer is None or answer.done():
                    continue  # its caller gave up (cancelled)
                if ok:
                    answer.set_result(value)
                else:
                    answer.set_exception(value)
        except (asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
            log.error("hydration worker %d sent a broken answer: %r", self.index, exc)
            self.process.kill()
        finally:
            self.open = False  # from now on, calls go to a new process
            code = await self.process.wait()
            if not self.closing:
                log.error("hydration worker %d exited with code %s", self.index, code)
            gone = SourceUnavailable(
                self._killed_for or f"hydration worker {self.index} exited with code {code}"
            )
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(gone)
            self._pending.clear()

    async def close(self) -> None:
        self.closing = True
        stdin = self.process.stdin
        assert stdin is not None
        stdin.close()  # the worker's signal to finish
        try:
            async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                await self.process.wait()
        except TimeoutError:
            log.error("hydration worker %d did not stop; killing it", self.index)
            self.process.kill()
        await asyncio.gather(self._reader, return_exceptions=True)


class _Worker:
    """A worker slot: keeps one process running for it, starting another when one dies."""

    def __init__(self, index: int, setup: dict[str, Any]) -> None:
        self.index = index
        self._setup = setup
        self._channel: _Channel | None = None
        self._starting = asyncio.Lock()
        self._started_at = -math.inf
        self._closed = False
        self.restarts = -1  # the first start is not a restart

    @property
    def pid(self) -> int | None:
        channel = self._channel
        return channel.process.pid if channel is not None and channel.open else None

    async def start(self) -> _Channel:
        async with self._starting:
            if self._closed:
                raise SourceUnavailable(f"hydration worker {self.index} is stopped")
            if self._channel is not None and self._channel.open:
                return self._channel
            wait = self._started_at + RESTART_INTERVAL_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._started_at = time.monotonic()
            self.restarts += 1
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "mdsd.hydration.workers",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            except OSError as exc:
                raise SourceUnavailable(
                    f"hydration worker {self.index} could not start: {exc}"
                ) from exc
            channel = self._channel = _Channel(self.index, process)
            channel.send_setup(self._setup)
            try:
                async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
                    await channel.hello
            except TimeoutError:
                process.kill()
                raise SourceUnavailable(
                    f"hydration worker {self.index} did not start within "
                    f"{STARTUP_TIMEOUT_SECONDS:.0f}s"
                ) from None
            log.info("hydration worker %d started (pid %d)", self.index, process.pid)
            return channel

    async def call(self, op: str, *args: Any, deadline: float | None = None) -> Any:
        channel = self._channel
        if channel is None or not channel.open:
            channel = await self.start()
        return await channel.call(op, args, deadline)

    async def aclose(self) -> None:
        async with self._starting:
            self._closed = True
            if self._channel is not None:
                await self._channel.close()


class ProcessFetcher(Fetcher):
    """Fetches in ``processes`` worker processes. ``local`` are the daemon's own connectors
    (they list sources for reconciliation); their counters join the workers' in ``stats``."""

    def __init__(
        self,
        policies: Mapping[str, SourcePolicy],
        local: Mapping[str, Connector],
        processes: int,
        log_level: str,
    ) -> None:
        if processes < 1:
            raise ValueError(f"ProcessFetcher needs at least one process, got {processes}")
        self._sources = frozenset(policies)
        #: per source, how long a read may take before its worker is checked
        self._deadlines = {key: policy.timeout_seconds for key, policy in policies.items()}
        self._local = local
        shares = {key: share_of(policy, processes) for key, policy in policies.items()}
        self._workers = [
            _Worker(i, {"index": i, "policies": shares, "log_level": log_level})
            for i in range(processes)
        ]

    @property
    def sources(self) -> AbstractSet[str]:
        return self._sources

    async def start(self) -> None:
        await asyncio.gather(*(worker.start() for worker in self._workers))

    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        worker = self._workers[zlib.crc32(unit.encode()) % len(self._workers)]
        fetched: Fetched = await worker.call(
            "fetch", source, unit, fresh, deadline=self._deadlines.get(source)
        )
        return fetched

    async def stats(self) -> SourceStats:
        async def of(worker: _Worker) -> SourceStats:
            if worker.pid is None:
                return {}
            try:
                async with asyncio.timeout(STATS_TIMEOUT_SECONDS):
                    answer: SourceStats = await worker.call("stats")
                    return answer
            except (TimeoutError, SourceUnavailable):
                return {}

        parts = [{key: c.stats() for key, c in self._local.items()}]
        parts += await asyncio.gather(*(of(worker) for worker in self._workers))
        return {
            key: merge_stats([p[key] for p in parts if key in p]) for key in sorted(self._sources)
        }

    def processes(self) -> list[dict[str, object]]:
        return [{"pid": w.pid, "restarts": max(0, w.restarts)} for w in self._workers]

    async def aclose(self) -> None:
        await asyncio.gather(*(worker.aclose() for worker in self._workers))


# -- the worker process -----------------------------------------------------------------------


async def _serve_worker() -> None:
    """Answer the daemon's calls until it closes our stdin."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # Answers go out on a private copy of stdout; fd 1 becomes stderr, so a stray print
    # from any library lands in the log instead of corrupting the stream.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    out, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, answers)
    replies = FrameWriter(out.write)
    setup = await read_frame(reader)
    if setup is None:
        return
    configure_logging(setup["log_level"], process=f"worker {setup['index']}")
    fetcher = LocalFetcher(build_connectors(setup["policies"]))
    replies.send((_HELLO, True, None))
    running: set[asyncio.Task[None]] = set()

    async def answer(call_id: int, op: str, args: tuple[Any, ...]) -> None:
        try:
            if op == "fetch":
                source, unit, fresh = args
                value: Any = await fetcher.fetch(source, unit, fresh=fresh)
            elif op == "stats":
                value = await fetcher.stats()
            elif op == "ping":
                value = None
            else:
                raise RuntimeError(f"unknown call {op!r}")
            message = (call_id, True, value)
        except Exception as exc:  # every failure goes back to the caller, which decides
            if not isinstance(exc, SourceUnavailable | InvalidPayload):
                log.exception("%s%r failed", op, args)
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            message = (call_id, False, exc)
        replies.send(message)

    try:
        while (call := await read_frame(reader)) is not None:
            task = asyncio.create_task(answer(*call))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for connector in fetcher.connectors.values():
            await connector.aclose()
        out.close()


def main() -> None:
    # Ctrl-C in a terminal, timeout(1) and service managers signal the whole process
    # group; the daemon decides when its workers stop (it closes their stdin as it shuts
    # down), so they finish the reads it still waits for. SIGKILL still ends one at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(WORKER_NICENESS)
    asyncio.run(_serve_worker())


if __name__ == "__main__":
    main()
