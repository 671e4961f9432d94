"""Worker processes of the daemon: started, called, watched and restarted the same way.

The daemon moves work that would hold its event loop (source reads, heavy queries) into
worker processes (``python -m <module>``) and talks to each over its stdin and stdout in
length-prefixed pickles: private pipes between one program's own processes.

A worker that dies fails its in-flight calls with the pool's ``unavailable`` error and is
started again at the next call. So does one that hangs, alive but silent (stopped with
SIGSTOP, its loop blocked): a call that has not come back within its deadline makes the
daemon ping the worker, and one that does not answer the ping within ``ping_timeout``
seconds is killed. A worker that answers is working and is left to finish. A worker exits
when its stdin closes, so it never outlives the daemon, even one killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mdsd.base.logs import configure_logging
from mdsd.base.memory import limit_arenas

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
#: the call id of the worker's first answer: it is ready
_HELLO = 0
STARTUP_TIMEOUT_SECONDS = 60.0
#: a worker that keeps dying is started again at most this often
RESTART_INTERVAL_SECONDS = 1.0
#: A worker whose event loop runs answers a ping at once, however much it is doing; one
#: silent this long is hung, and is killed.
PING_TIMEOUT_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 5.0
#: How much lower the workers' CPU priority is than the daemon's. The daemon's event loop is
#: the one serial stage (it writes, indexes and acknowledges) while the workers are many
#: and latency tolerant; at equal priority the loop waited a fifth of its time for a core
#: the workers held, and a backfill ran 10-30% slower (bench/e2e_bench.py, A/B).
WORKER_NICENESS = 5


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


class Channel:
    """One worker process: calls out on its stdin, answers back on its stdout.

    A process that stops answering fails the calls waiting on it and nothing else: the
    process started after it gets a channel of its own.
    """

    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        unavailable: type[Exception],
        ping_timeout: float,
    ) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.name = name
        self.process = process
        self.open = True
        self._unavailable = unavailable
        self._ping_timeout = ping_timeout
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
        self._reader = asyncio.create_task(self._read_answers(), name=name)

    @property
    def in_flight(self) -> int:
        """Calls sent and not answered yet."""
        return len(self._pending)

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
        time as long. A timer, not ``asyncio.wait``: this is on every call, and a timer
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
            async with asyncio.timeout(self._ping_timeout):
                await self.call("ping", ())
        except TimeoutError:
            if self.open:
                self._killed_for = (
                    f"{self.name} (pid {self.process.pid}) did not answer within "
                    f"{self._ping_timeout:g}s; killed it as hung"
                )
                log.error("%s", self._killed_for)
                self.process.kill()
        except self._unavailable:
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
            log.error("%s sent a broken answer: %r", self.name, exc)
            self.process.kill()
        finally:
            self.open = False  # from now on, calls go to a new process
            code = await self.process.wait()
            if not self.closing:
                log.error("%s exited with code %s", self.name, code)
            gone = self._unavailable(self._killed_for or f"{self.name} exited with code {code}")
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
            log.error("%s did not stop; killing it", self.name)
            self.process.kill()
        await asyncio.gather(self._reader, return_exceptions=True)


class WorkerSlot:
    """A worker slot: keeps one process of ``python -m module`` running for it, starting
    another when one dies. Its failures are ``unavailable`` errors; ``ping_timeout`` is
    ``PING_TIMEOUT_SECONDS`` unless given."""

    def __init__(
        self,
        name: str,
        module: str,
        setup: dict[str, Any],
        unavailable: type[Exception],
        ping_timeout: float | None = None,
    ) -> None:
        self.name = name
        self._module = module
        self._setup = setup
        self._unavailable = unavailable
        self._ping_timeout = ping_timeout
        self._channel: Channel | None = None
        self._starting = asyncio.Lock()
        self._started_at = -math.inf
        self._closed = False
        self.restarts = -1  # the first start is not a restart

    @property
    def pid(self) -> int | None:
        channel = self._channel
        return channel.process.pid if channel is not None and channel.open else None

    @property
    def in_flight(self) -> int:
        channel = self._channel
        return channel.in_flight if channel is not None and channel.open else 0

    async def start(self) -> Channel:
        async with self._starting:
            if self._closed:
                raise self._unavailable(f"{self.name} is stopped")
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
                    self._module,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            except OSError as exc:
                raise self._unavailable(f"{self.name} could not start: {exc}") from exc
            ping_timeout = self._ping_timeout or PING_TIMEOUT_SECONDS
            channel = self._channel = Channel(self.name, process, self._unavailable, ping_timeout)
            channel.send_setup(self._setup)
            try:
                async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
                    await channel.hello
            except TimeoutError:
                process.kill()
                raise self._unavailable(
                    f"{self.name} did not start within {STARTUP_TIMEOUT_SECONDS:.0f}s"
                ) from None
            log.info("%s started (pid %d)", self.name, process.pid)
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


# -- the worker process -----------------------------------------------------------------------


class Handler:
    """What a worker process does with the daemon's calls (``serve`` answers pings)."""

    async def answer(self, op: str, args: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the handler holds, once the daemon has closed our stdin."""


async def _serve(
    build: Callable[[dict[str, Any]], Awaitable[Handler]], passed: tuple[type[Exception], ...]
) -> None:
    """Answer the daemon's calls until it closes our stdin. Errors of the ``passed`` types
    go back as they are; any other is logged and goes back as a ``RuntimeError``."""
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
    configure_logging(setup["log_level"], process=setup["process"])
    handler = await build(setup)
    replies.send((_HELLO, True, None))
    running: set[asyncio.Task[None]] = set()

    async def answer(call_id: int, op: str, args: tuple[Any, ...]) -> None:
        try:
            value = None if op == "ping" else await handler.answer(op, args)
            message = (call_id, True, value)
        except Exception as exc:  # every failure goes back to the caller, which decides
            if not isinstance(exc, passed):
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
        await handler.aclose()
        out.close()


def run_worker(
    build: Callable[[dict[str, Any]], Awaitable[Handler]], passed: tuple[type[Exception], ...]
) -> None:
    """The main of a worker process: ``build`` its handler from the setup the daemon sends
    first, then answer calls at a lower CPU priority until the daemon closes our stdin."""
    # Ctrl-C in a terminal, timeout(1) and service managers signal the whole process
    # group; the daemon decides when its workers stop (it closes their stdin as it shuts
    # down), so they finish the calls it still waits for. SIGKILL still ends one at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(WORKER_NICENESS)
    limit_arenas()
    asyncio.run(_serve(build, passed))
