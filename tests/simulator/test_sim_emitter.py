from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from sim_contract import event_target
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.chaos import Chaos
from simulator.emitter import CallbackSink, Emitter, InboxSink, SocketSink
from simulator.world import World


class Collector:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, str]]] = []

    @property
    def events(self) -> list[dict[str, str]]:
        return [e for batch in self.batches for e in batch]

    def __call__(self, events: list[dict[str, str]]) -> None:
        self.batches.append(events)


async def test_initial_events_reach_the_sink_once_each(world: World) -> None:
    collector = Collector()
    emitter = Emitter(world, CallbackSink(collector), rate=0, batch_size=100)
    await emitter.run()
    events = collector.events
    assert [event_target(e) for e in events] == [event_target(e) for e in world.initial_events()]
    assert max(len(b) for b in collector.batches) == 100
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["emitted_at"].endswith("Z") for e in events)
    assert emitter.stats["emitted"] == len(events)


async def test_the_living_stream_mutates_at_the_rate_until_stopped(world: World) -> None:
    collector = Collector()
    emitter = Emitter(world, CallbackSink(collector), rate=500)
    task = asyncio.create_task(emitter.run(initial=False))
    await asyncio.sleep(0.3)
    emitter.stop()
    await asyncio.wait_for(task, 2)
    assert 10 <= emitter.stats["mutations"] <= 200
    assert len(collector.events) == emitter.stats["emitted"] >= emitter.stats["mutations"]


async def test_chaos_applies_to_emitted_events(world: World) -> None:
    collector = Collector()
    chaos = Chaos(drop=0.2, duplicate=0.2, seed=1)
    emitter = Emitter(world, CallbackSink(collector), chaos=chaos, rate=0)
    await emitter.run()
    total = len(list(world.initial_events()))
    ids = [e["event_id"] for e in collector.events]
    assert emitter.stats["dropped"] > 0 and emitter.stats["duplicated"] > 0
    assert len(set(ids)) == total - emitter.stats["dropped"]
    assert len(ids) == len(set(ids)) + emitter.stats["duplicated"]


async def test_an_async_callback_is_awaited(world: World) -> None:
    seen: list[dict[str, str]] = []

    async def collect(events: list[dict[str, str]]) -> None:
        await asyncio.sleep(0)
        seen.extend(events)

    emitter = Emitter(world, CallbackSink(collect), rate=0)
    await emitter.publish(world.mutate())
    assert seen and all("event_id" in e for e in seen)


async def test_a_failing_sink_is_retried(world: World) -> None:
    delivered: list[dict[str, str]] = []
    failures = iter([OSError("daemon not up"), OSError("still not up")])

    def flaky(events: list[dict[str, str]]) -> None:
        if (failure := next(failures, None)) is not None:
            raise failure
        delivered.extend(events)

    emitter = Emitter(world, CallbackSink(flaky), rate=0)
    events = world.mutate()
    await emitter.publish(events)
    assert [event_target(e) for e in delivered] == [event_target(e) for e in events]
    assert emitter.stats["send_retries"] == 2


async def test_inbox_files_appear_atomically_in_order(tmp_path: Path, world: World) -> None:
    inbox = tmp_path / "inbox"
    sink = InboxSink(inbox)
    emitter = Emitter(world, sink, rate=0, batch_size=150)
    await emitter.run()
    files = sorted(inbox.iterdir())
    assert files and all(f.suffix == ".jsonl" and not f.name.startswith(".") for f in files)
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert [event_target(e) for e in lines] == [event_target(e) for e in world.initial_events()]


@pytest.fixture
async def daemon_socket(tmp_path: Path) -> AsyncIterator[tuple[Path, list[bytes]]]:
    """A stand-in for the daemon's event endpoint on a Unix socket, recording bodies.

    It refuses bodies that mention ``refuse-me`` with a 400, like a daemon refusing garbage.
    """
    bodies: list[bytes] = []

    async def events(request: Request) -> JSONResponse:
        body = await request.body()
        if b"refuse-me" in body:
            return JSONResponse({"error": "bad events"}, status_code=400)
        bodies.append(body)
        return JSONResponse({"accepted": len(body.splitlines())}, status_code=202)

    path = tmp_path / "mdsd.sock"
    app = Starlette(routes=[Route("/v1/events", events, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, uds=str(path), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield path, bodies
    server.should_exit = True
    await task


async def test_socket_sink_posts_json_lines(
    world: World, daemon_socket: tuple[Path, list[bytes]]
) -> None:
    path, bodies = daemon_socket
    sink = SocketSink(path)
    try:
        emitter = Emitter(world, sink, rate=0, batch_size=200)
        await emitter.run()
    finally:
        await sink.aclose()
    lines = [json.loads(line) for body in bodies for line in body.splitlines()]
    assert [event_target(e) for e in lines] == [event_target(e) for e in world.initial_events()]
    assert len(bodies) == emitter.stats["batches"]


async def test_refused_events_are_not_retried(
    world: World, daemon_socket: tuple[Path, list[bytes]]
) -> None:
    path, bodies = daemon_socket
    sink = SocketSink(path)
    try:
        emitter = Emitter(world, sink, rate=0)
        await emitter.publish([{"event_type": "refuse-me", "model_id": "x"}])
        await emitter.publish(world.mutate())
    finally:
        await sink.aclose()
    assert emitter.stats["refused"] == 1 and emitter.stats.get("send_retries", 0) == 0
    assert len(bodies) == 1
