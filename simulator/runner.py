"""Run the simulator inside another program: as an asyncio context, or in a background thread.

``mdsd demo`` and async tests use ``run_simulator``; sync code (pytest fixtures) uses
``SimulatorThread``. Either serves the world over HTTP on a real port (a free one when
``port=0``) and, given a sink, feeds the daemon its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn

from simulator.chaos import Chaos
from simulator.emitter import Emitter, Sink
from simulator.records import SOURCE_COLLECTIONS, Event
from simulator.server import create_app
from simulator.world import World

T = TypeVar("T")


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the program hosting it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Simulator:
    """A running simulator: its world, where it listens, and its emitter if it has a sink."""

    world: World
    base_url: str
    emitter: Emitter | None = None

    @property
    def source_urls(self) -> dict[str, str]:
        """Base URL per source key (all the same app), for a daemon's ``[sources.*]``."""
        return dict.fromkeys(SOURCE_COLLECTIONS, self.base_url)

    async def mutate(self, n: int = 1) -> list[Event]:
        """Apply ``n`` changes now; their events, also delivered to the sink if there is one."""
        events = self.world.mutate_many(n)
        if self.emitter is not None:
            await self.emitter.publish(events)
        return events


def _listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket. The protocol is named explicitly: asyncio only sets TCP_NODELAY on
    connections accepted from sockets that name it, and without it every keep-alive response
    waits ~40 ms for a delayed ACK (~20 requests/s instead of thousands)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def _serve_until_started(server: uvicorn.Server, sock: socket.socket) -> asyncio.Task[None]:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped the server
            raise RuntimeError("simulator server stopped during startup")
        await asyncio.sleep(0.01)
    return task


@contextlib.asynccontextmanager
async def run_simulator(
    world: World,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    chaos: Chaos | None = None,
    sink: Sink | None = None,
    rate: float = 0.0,
    initial_events: bool = True,
    live: bool = True,
) -> AsyncIterator[Simulator]:
    """Serve ``world`` on ``host:port`` while the context is open.

    A served world is ``live`` unless told otherwise: its changes are dated now, after its
    generated history (``World.go_live``).

    With a ``sink`` (which the simulator then owns and closes), an emitter sends one event
    per entity (unless ``initial_events`` is false) and then mutates the world at ``rate``
    events per second (0: only on ``Simulator.mutate`` or ``POST /_mutate``).
    """
    chaos = chaos or Chaos()
    if live:
        world.go_live()
    emitter = Emitter(world, sink, chaos=chaos, rate=rate) if sink is not None else None
    app = create_app(
        world,
        chaos=chaos,
        publish=emitter.publish if emitter else None,
        event_stats=(lambda: emitter.stats) if emitter else None,
    )
    sock = _listening_socket(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _EmbeddedServer(config)
    emitting: asyncio.Task[None] | None = None
    try:
        serving = await _serve_until_started(server, sock)
        try:
            if emitter is not None:
                emitting = asyncio.create_task(emitter.run(initial=initial_events))
            yield Simulator(world, f"http://{host}:{bound_port}", emitter)
        finally:
            if emitter is not None and emitting is not None:
                emitter.stop()
                await emitting  # re-raises whatever broke the emitter
            server.should_exit = True
            await serving
    finally:
        sock.close()
        if sink is not None:
            await sink.aclose()


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread, for synchronous callers.

    ``start()`` returns once it serves; ``base_url``, ``mutate()`` and ``truth()`` are safe
    to use from any thread; ``stop()`` shuts it down. Also a context manager.
    """

    def __init__(self, world: World, **options: Any) -> None:
        """``options`` are those of ``run_simulator`` (host, port, chaos, sink, rate, ...)."""
        self.world = world
        self._options = options
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._simulator: Simulator | None = None
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 30.0) -> SimulatorThread:
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("simulator did not start in time")
        if self._error is not None:
            raise RuntimeError("simulator failed to start") from self._error
        return self

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            async with run_simulator(self.world, **self._options) as simulator:
                self._simulator = simulator
                self._ready.set()
                await self._stopping.wait()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._ready.set()

    @property
    def simulator(self) -> Simulator:
        if self._simulator is None:
            raise RuntimeError("simulator is not running; call start() first")
        return self._simulator

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    def _submit(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the simulator's loop (between requests and mutations); its result."""
        if self._loop is None:
            raise RuntimeError("simulator is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def mutate(self, n: int = 1) -> list[Event]:
        return self._submit(self.simulator.mutate(n))

    def truth(self) -> dict[str, Any]:
        async def snapshot() -> dict[str, Any]:
            return self.world.truth()

        return self._submit(snapshot())

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._thread is None or self._loop is None or self._stopping is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
