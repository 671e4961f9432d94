"""Hydration reads in worker processes: same answers as in-process, failures contained."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from mds.testing import SOURCES
from mdsd.connectors import (
    CONNECTORS,
    EVENT_ROUTES,
    InvalidPayload,
    SourcePolicy,
    SourceUnavailable,
    build_connectors,
)
from mdsd.hydration.fetching import LocalFetcher
from mdsd.hydration.workers import (
    WORKER_NICENESS,
    FrameWriter,
    ProcessFetcher,
    encode_frame,
    merge_stats,
    read_frame,
    share_of,
)
from simulator import SimulatorThread, World


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(World.generate(size=200, seed=3)) as running:
        yield running


def units(world: World) -> list[tuple[str, str]]:
    """(source, unit) of every initial event, in order, without repeats."""
    found: dict[str, str] = {}
    for event in world.initial_events():
        if "event_type" not in event:  # OpenLineage: nothing to fetch
            continue
        source, _ = EVENT_ROUTES[event["event_type"]]
        ids = {k: v for k, v in event.items() if k != "event_type"}
        found.setdefault(CONNECTORS[source].target_of(event["event_type"], ids), source)
    return [(source, unit) for unit, source in found.items()]


def policies(base_url: str, **limits: object) -> dict[str, SourcePolicy]:
    return {key: SourcePolicy(base_url=base_url, **limits) for key in SOURCES}  # type: ignore[arg-type]


@pytest.fixture
async def workers(simulator: SimulatorThread) -> AsyncIterator[ProcessFetcher]:
    local = build_connectors(policies(simulator.base_url))
    fetcher = ProcessFetcher(policies(simulator.base_url), local, processes=2, log_level="info")
    await fetcher.start()
    yield fetcher
    await fetcher.aclose()
    for connector in local.values():
        await connector.aclose()


# -- pieces -----------------------------------------------------------------------------------


def test_each_worker_gets_its_share_of_a_sources_limits() -> None:
    policy = SourcePolicy(
        base_url="http://x", concurrency=5, rate_per_second=50.0, burst=3, cache_max_entries=9
    )
    share = share_of(policy, 2)
    assert (share.concurrency, share.rate_per_second, share.burst) == (3, 25.0, 2)
    assert share.cache_max_entries == 5
    assert (share.timeout_seconds, share.max_retries) == (policy.timeout_seconds, 5)


def test_stats_of_several_clients_add_up() -> None:
    merged = merge_stats(
        [
            {"state": "closed", "requests": 2, "last_error": "old", "catch_up": {"runs": 1}},
            {"state": "open", "requests": 3, "last_error": None},
            {"state": "half_open", "requests": 4, "last_error": "new"},
        ]
    )
    assert merged == {
        "state": "open",
        "requests": 9,
        "last_error": "new",
        "catch_up": {"runs": 1},
    }


async def test_frames_sent_in_one_turn_leave_in_one_write() -> None:
    writes: list[bytes] = []
    frames = FrameWriter(writes.append)
    frames.send((1, "fetch", ("registry", "a", True)))
    frames.send((2, "stats", ()))
    await asyncio.sleep(0)
    assert len(writes) == 1
    reader = asyncio.StreamReader()
    reader.feed_data(writes[0])
    reader.feed_eof()
    assert await read_frame(reader) == (1, "fetch", ("registry", "a", True))
    assert await read_frame(reader) == (2, "stats", ())
    assert await read_frame(reader) is None  # a clean end


async def test_a_frame_cut_short_is_an_error_not_an_end() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame("hello")[:-1])
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await read_frame(reader)


# -- worker processes against the simulator ---------------------------------------------------


async def test_workers_answer_exactly_as_the_daemon_process_would(
    simulator: SimulatorThread, workers: ProcessFetcher
) -> None:
    local = LocalFetcher(build_connectors(policies(simulator.base_url)))
    sample = units(simulator.world)[::7]
    try:
        for source, unit in sample:
            assert await workers.fetch(source, unit, fresh=True) == await local.fetch(
                source, unit, fresh=True
            )
    finally:
        for connector in local.connectors.values():
            await connector.aclose()
    stats = await workers.stats()
    assert set(stats) == set(SOURCES)
    assert sum(int(s["requests"]) for s in stats.values()) >= len(sample)  # type: ignore[call-overload]
    assert [p["restarts"] for p in workers.processes()] == [0, 0]


async def test_workers_run_at_a_lower_cpu_priority_than_the_daemon(
    workers: ProcessFetcher,
) -> None:
    """The daemon's loop is the serial stage: under load it must get a core first."""
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    for process in workers.processes():
        assert isinstance(process["pid"], int)
        theirs = os.getpriority(os.PRIO_PROCESS, process["pid"])
        assert theirs == min(ours + WORKER_NICENESS, 19)


async def test_a_killed_worker_fails_its_reads_and_is_started_again(
    simulator: SimulatorThread, workers: ProcessFetcher
) -> None:
    source, unit = units(simulator.world)[0]
    before = {p["pid"] for p in workers.processes()}
    for pid in before:
        assert isinstance(pid, int)
        os.kill(pid, signal.SIGKILL)
    in_flight = [workers.fetch(s, u, fresh=True) for s, u in units(simulator.world)]
    failed = await asyncio.gather(*in_flight, return_exceptions=True)
    assert all(isinstance(f, SourceUnavailable) and "exited" in str(f) for f in failed)
    fetched = await workers.fetch(source, unit, fresh=True)
    assert fetched.result.entities[0].id == unit  # type: ignore[union-attr]
    after = workers.processes()
    assert any(p["restarts"] == 1 and p["pid"] not in before for p in after)


async def test_an_unusable_payload_reaches_the_daemon_as_invalid_payload() -> None:
    async def not_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnope")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(not_json, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        fetcher = ProcessFetcher(policies(base), {}, processes=1, log_level="warning")
        try:
            with pytest.raises(InvalidPayload, match="not JSON"):
                await fetcher.fetch("registry", "aip://model/registry/m", fresh=True)
            stats = await fetcher.stats()  # the workers' counters, with no local connectors
            assert stats["registry"]["requests"] == 1
            assert stats["registry"]["retries"] == 0  # an unusable body is not retried
        finally:
            await fetcher.aclose()


async def test_workers_stop_when_the_fetcher_closes(
    simulator: SimulatorThread,
) -> None:
    fetcher = ProcessFetcher(policies(simulator.base_url), {}, processes=2, log_level="warning")
    await fetcher.start()
    pids = [p["pid"] for p in fetcher.processes()]
    await fetcher.aclose()
    for pid in pids:
        assert isinstance(pid, int)
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: it is gone
    with pytest.raises(SourceUnavailable, match="stopped"):
        await fetcher.fetch("registry", "aip://model/registry/m", fresh=True)


async def test_a_hung_worker_is_killed_past_the_deadline_and_started_again(
    simulator: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGSTOP: alive but silent. Its reads fail once the deadline (the source's
    timeout_seconds) and a ping go unanswered, and the next read has a new worker."""
    monkeypatch.setattr("mdsd.hydration.workers.PING_TIMEOUT_SECONDS", 0.5)
    fetcher = ProcessFetcher(
        policies(simulator.base_url, timeout_seconds=0.5), {}, processes=1, log_level="warning"
    )
    await fetcher.start()
    try:
        (hung,) = [p["pid"] for p in fetcher.processes()]
        assert isinstance(hung, int)
        os.kill(hung, signal.SIGSTOP)
        reads = [fetcher.fetch(s, u, fresh=True) for s, u in units(simulator.world)[:5]]
        async with asyncio.timeout(10):
            failed = await asyncio.gather(*reads, return_exceptions=True)
        assert all(isinstance(f, SourceUnavailable) and "hung" in str(f) for f in failed)
        source, unit = units(simulator.world)[0]
        fetched = await fetcher.fetch(source, unit, fresh=True)
        assert fetched.result.entities[0].id == unit  # type: ignore[union-attr]
        assert fetcher.processes()[0]["restarts"] == 1
        with pytest.raises(ChildProcessError):
            os.waitpid(hung, os.WNOHANG)  # killed and reaped, not left stopped
    finally:
        await fetcher.aclose()


async def test_a_slow_read_past_the_deadline_keeps_its_live_worker() -> None:
    """A worker that answers the ping is working (retrying, backing off): left alone."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; the request times out in the worker

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        slow = policies(base, timeout_seconds=0.2, max_retries=3, backoff_max_seconds=0.1)
        fetcher = ProcessFetcher(slow, {}, processes=1, log_level="error")
        try:
            with pytest.raises(SourceUnavailable, match="failed after 4 attempts"):
                await fetcher.fetch("registry", "aip://model/registry/m", fresh=True)
            assert fetcher.processes()[0]["restarts"] == 0
        finally:
            await fetcher.aclose()
