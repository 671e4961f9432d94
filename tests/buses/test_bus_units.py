"""Fast tests of the bus machinery with fakes: envelopes, backpressure, batching into
intake, offset bookkeeping, the shared loop, and the adapters' acknowledgement rules."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from mdsd.intake.buses.backpressure import Backpressure
from mdsd.intake.buses.envelope import unwrap
from mdsd.intake.buses.offsets import OffsetBook, lag
from mdsd.intake.buses.pump import Bus, Message, submit_batch
from tests.buses.fakes import MemoryIntake

EVENT = {"event_type": "model_created", "model_id": "ranking"}
RAW = json.dumps(EVENT).encode()


def msg(body: bytes, origin: str = "test:q", handle: Any = None) -> Message:
    return Message(body, origin, handle)


# -- SNS envelopes ---------------------------------------------------------------------------


def notification(message: str, **extra: Any) -> bytes:
    envelope = {
        "Type": "Notification",
        "MessageId": "7c8b",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
        "Message": message,
        "Timestamp": "2025-01-01T00:00:00.000Z",
        **extra,
    }
    return json.dumps(envelope, indent=2).encode()


def test_a_wrapped_notification_is_unwrapped_to_its_message() -> None:
    assert unwrap(notification(RAW.decode())) == RAW


def test_raw_delivery_and_anything_else_pass_through_untouched() -> None:
    confirmation = json.dumps({"Type": "SubscriptionConfirmation", "TopicArn": "arn"}).encode()
    for body in (RAW, b"not json", b'{"TopicArn": ', confirmation, b"\xff\xfe", b""):
        assert unwrap(body) == body


def test_a_notification_whose_message_is_not_a_string_is_left_for_intake_to_judge() -> None:
    body = json.dumps({"Type": "Notification", "TopicArn": "a", "Message": EVENT}).encode()
    assert unwrap(body) == body


# -- backpressure ------------------------------------------------------------------------------


def test_backpressure_pauses_at_the_limit_and_resumes_at_half() -> None:
    depth = {"n": 0}
    pressure = Backpressure(lambda: depth["n"], 100)
    assert not pressure.should_pause()
    depth["n"] = 100
    assert pressure.should_pause() and pressure.paused
    depth["n"] = 51
    assert not pressure.may_resume(), "no flapping just under the limit"
    depth["n"] = 50
    assert pressure.may_resume() and not pressure.paused
    assert pressure.to_json()["pauses"] == 1


# -- offsets -----------------------------------------------------------------------------------


def test_only_durable_offsets_of_assigned_partitions_are_committed() -> None:
    book: OffsetBook[str] = OffsetBook()
    book.assign(["p0", "p1"])
    book.mark_durable("p0", 10)
    book.mark_durable("p2", 5)  # not ours (revoked while being persisted)
    assert book.uncommitted() == {"p0": 10}
    book.mark_committed({"p0": 10})
    assert book.uncommitted() == {}
    book.mark_durable("p0", 7)  # an older batch finishing late never moves it back
    book.mark_durable("p1", 3)
    assert book.uncommitted() == {"p1": 3}
    assert book.uncommitted(only=["p0"]) == {}
    book.revoke(["p1"])
    assert book.uncommitted() == {} and book.assigned == {"p0"}


def test_lag_counts_from_the_committed_offset_or_else_the_position() -> None:
    assert lag(100, 60, 90) == 40
    assert lag(100, None, 90) == 10
    assert lag(None, 60, 90) is None
    assert lag(50, 60, None) == 0


# -- batching into intake ------------------------------------------------------------------------


async def test_one_line_objects_share_one_write_and_rejections_map_to_their_messages() -> None:
    intake = MemoryIntake()
    bad_type = b'{"event_type": "model_exploded", "model_id": "m"}'
    batch = [
        msg(RAW),
        msg(bad_type),
        msg(b"not json"),
        msg(json.dumps(EVENT, indent=2).encode()),  # several lines: goes alone
        msg(b'[{"event_type": "user_updated", "user_id": "al"}]'),  # an array: goes alone
        msg(RAW, origin="test:other"),
    ]
    accepted, rejected = await submit_batch(intake, batch)
    assert accepted == 4
    assert rejected == {1, 2}
    assert [origin for _, origin in intake.calls].count("test:q") == 4  # 1 joined + 3 alone
    joined = intake.calls[0][0]
    assert joined == RAW + b"\n" + bad_type
    assert {raw for _, _, raw in intake.dead} == {bad_type.decode(), "not json"}


async def test_an_all_invalid_batch_is_dead_lettered_message_by_message() -> None:
    intake = MemoryIntake()
    bodies = [b"{oops", b"nope", b"\xff\xfe", b'{"model_id": "m"}']
    _, rejected = await submit_batch(intake, [msg(b) for b in bodies])
    assert rejected == {0, 1, 2, 3}
    assert len(intake.dead) == 4


# -- the shared loop -----------------------------------------------------------------------------


class FakeAdapter:
    """A broker that hands out scripted batches and records what the loop asks of it."""

    kind = "fake"

    def __init__(self, batches: list[list[Message]], connect_failures: int = 0) -> None:
        self.batches = batches
        self.connect_failures = connect_failures
        self.log: list[str] = []
        self.persisted_batches: list[tuple[list[bytes], set[int]]] = []
        self.fetch_while_paused = 0
        self.paused = False

    async def connect(self) -> None:
        if self.connect_failures:
            self.connect_failures -= 1
            raise ConnectionError("broker down")
        self.log.append("connect")

    async def close(self) -> None:
        self.log.append("close")

    async def fetch(self) -> list[Message]:
        if self.paused:
            self.fetch_while_paused += 1
        await asyncio.sleep(0)
        return self.batches.pop(0) if self.batches else []

    @contextlib.asynccontextmanager
    async def holding(self, batch: Sequence[Message]) -> AsyncIterator[None]:
        self.log.append("hold")
        yield
        self.log.append("release")

    def persisted(self, batch: Sequence[Message], rejected: set[int]) -> None:
        self.log.append("persisted")
        self.persisted_batches.append(([m.body for m in batch], rejected))

    async def acknowledge(self) -> None:
        self.log.append("ack")

    def pause(self) -> None:
        self.paused = True
        self.log.append("pause")

    def resume(self) -> None:
        self.paused = False
        self.log.append("resume")

    async def idle(self) -> None:
        await asyncio.sleep(0.001)

    async def status(self) -> dict[str, Any]:
        return {"lag": len(self.batches)}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mdsd.intake.buses.pump.BACKOFF_FIRST_SECONDS", 0.001)


async def run_until(bus: Bus, condition: Any, timeout: float = 5.0) -> None:
    task = asyncio.create_task(bus.run())
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.001)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_batch_is_acknowledged_only_after_intake_has_it() -> None:
    adapter = FakeAdapter([[msg(RAW), msg(b"junk")]])
    intake = MemoryIntake()
    bus = Bus(adapter, intake, Backpressure(lambda: 0, 10))
    await run_until(bus, lambda: "ack" in adapter.log)
    assert adapter.log[:5] == ["connect", "hold", "persisted", "release", "ack"]
    assert adapter.log[-1] == "close"
    assert adapter.persisted_batches == [([RAW, b"junk"], {1})]
    status = await bus.status()
    assert (status["messages"], status["accepted"], status["rejected"]) == (2, 1, 1)


async def test_a_failed_write_retries_the_same_batch_before_fetching_another() -> None:
    adapter = FakeAdapter([[msg(RAW)], [msg(b'{"event_type": "team_updated", "team_id": "t"}')]])
    intake = MemoryIntake(failures=2)
    bus = Bus(adapter, intake, Backpressure(lambda: 0, 10))
    await run_until(bus, lambda: len(adapter.persisted_batches) == 2)
    assert [raw for raw, _ in intake.calls] == [RAW, RAW, RAW, adapter.persisted_batches[1][0][0]]
    assert adapter.log.count("persisted") == 2
    assert "disk full" in (bus.last_error or "")


async def test_connecting_is_retried_until_the_broker_answers() -> None:
    adapter = FakeAdapter([[msg(RAW)]], connect_failures=3)
    bus = Bus(adapter, MemoryIntake(), Backpressure(lambda: 0, 10))
    await run_until(bus, lambda: bus.messages == 1)
    assert "broker down" in (bus.last_error or "")


async def test_a_deep_queue_pauses_fetching_until_it_drains() -> None:
    depth = {"n": 10}
    adapter = FakeAdapter([[msg(RAW)]])
    bus = Bus(adapter, MemoryIntake(), Backpressure(lambda: depth["n"], 10))
    task = asyncio.create_task(bus.run())
    async with asyncio.timeout(5):
        while bus.state != "paused":
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        assert adapter.log == ["connect", "pause"] and bus.messages == 0
        depth["n"] = 5
        while bus.messages == 0:
            await asyncio.sleep(0.001)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert adapter.fetch_while_paused == 0
    assert adapter.log[:3] == ["connect", "pause", "resume"]
    assert (await bus.status())["backpressure"]["pauses"] == 1
