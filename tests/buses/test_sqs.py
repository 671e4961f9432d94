"""SQS intake against moto_server: a daemon killed mid-stream, SNS fan-out to a wrapped and
a raw-delivery queue, visibility kept while a slow batch is persisted, and invalid messages
left to the queue's redrive policy."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from mds.testing import DaemonProcess
from mdsd.intake.buses.backpressure import Backpressure
from mdsd.intake.buses.pump import Bus
from mdsd.intake.buses.settings import SqsConfig
from mdsd.intake.buses.sqs import SqsAdapter
from simulator.chaos import Chaos
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.buses.brokers import MotoServer, jsonl_bodies
from tests.buses.fakes import MemoryIntake
from tests.buses.scenario import DEAD_RAWS, MALFORMED, kill_mid_stream, until
from tests.e2e.conftest import graph_differences

pytestmark = pytest.mark.slow


def sqs_table(moto: MotoServer, queue_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "queue_url": queue_url,
        "endpoint_url": moto.endpoint,
        "region": "us-east-1",
        "wait_seconds": 1,
        "visibility_timeout": 5,
        **extra,
    }


def drained(daemon: DaemonProcess, moto: MotoServer, queue_url: str, timeout: float) -> None:
    """Wait until the queue is empty (nothing waiting, nothing in flight), then idle."""
    deadline = time.monotonic() + timeout
    while asyncio.run(moto.queue_depth(queue_url)) != (0, 0):
        assert time.monotonic() < deadline, daemon.log()[-3000:]
        time.sleep(0.5)
    answer = daemon.call("wait_idle", 180.0)
    assert answer["idle"], daemon.log()[-3000:]


def test_daemon_killed_mid_stream_applies_every_event_and_dead_letters_the_rest(
    tmp_path: Path, moto: MotoServer
) -> None:
    slow_source = Chaos(latency_ms=20.0, fail_5xx=0.05, seed=11)
    with SimulatorThread(World.generate(size=400, seed=9), chaos=slow_source) as simulator:
        events = list(simulator.world.initial_events())
        rng = random.Random(5)
        events += rng.sample(events, len(events) // 5)
        rng.shuffle(events)
        bodies = jsonl_bodies(events) + MALFORMED
        rng.shuffle(bodies)
        queue_url, _ = asyncio.run(moto.create_queue("events"))
        asyncio.run(moto.send(queue_url, bodies))
        daemon = DaemonProcess(
            tmp_path,
            simulator.base_url,
            extra={"intake": {"max_pending": 30}, "intake.sqs": sqs_table(moto, queue_url)},
        )
        daemon.start()
        try:
            kill_mid_stream(daemon, "sqs")  # in-flight messages reappear after their timeout
            daemon.start()
            drained(daemon, moto, queue_url, 240)
            assert graph_differences(daemon, simulator.truth()) == []
            status = daemon.call("status")["buses"]["sqs"]
            assert status["lag"] == 0 and status["in_flight"] == 0, status
            letters = daemon.call("dead_letters", limit=100)["dead_letters"]
            assert {letter["origin"] for letter in letters} == {"sqs:events"}
            assert {letter["raw"] for letter in letters} == DEAD_RAWS
            assert daemon.stop() == 0, "SIGTERM: a last commit, a clean leave"
            assert "mdsd stopped cleanly" in daemon.log()
        finally:
            daemon.stop()


async def publish(moto: MotoServer, topic_arn: str, bodies: list[bytes]) -> None:
    async with moto.client("sns") as sns:
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "Message": body.decode()}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            answer = await sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
            assert not answer.get("Failed"), answer


async def fan_out(moto: MotoServer) -> tuple[str, str, str]:
    """A topic delivering to a queue wrapped (the SNS default) and to one raw."""
    wrapped_url, wrapped_arn = await moto.create_queue("wrapped")
    raw_url, raw_arn = await moto.create_queue("raw")
    async with moto.client("sns") as sns:
        topic_arn = (await sns.create_topic(Name="changes"))["TopicArn"]
        await sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=wrapped_arn)
        await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=raw_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
    return topic_arn, wrapped_url, raw_url


def test_sns_fan_out_reaches_daemons_on_a_wrapped_and_a_raw_queue(
    tmp_path: Path, moto: MotoServer
) -> None:
    with SimulatorThread(World.generate(size=150, seed=4)) as simulator:
        topic_arn, wrapped_url, raw_url = asyncio.run(fan_out(moto))
        bodies = [*jsonl_bodies(simulator.world.initial_events()), MALFORMED[1]]
        asyncio.run(publish(moto, topic_arn, bodies))
        daemons = []
        for name, url in (("wrapped", wrapped_url), ("raw", raw_url)):
            (tmp_path / name).mkdir()
            extra = {"intake.sqs": sqs_table(moto, url)}
            daemons.append(DaemonProcess(tmp_path / name, simulator.base_url, extra=extra).start())
        try:
            for daemon, url in zip(daemons, (wrapped_url, raw_url), strict=True):
                drained(daemon, moto, url, 180)
                assert graph_differences(daemon, simulator.truth()) == []
                letters = daemon.call("dead_letters", limit=10)["dead_letters"]
                assert [letter["raw"] for letter in letters] == [MALFORMED[1].decode()]
        finally:
            for daemon in daemons:
                daemon.stop()


async def test_a_slow_batch_stays_invisible_to_other_consumers_until_deleted(
    moto: MotoServer,
) -> None:
    queue_url, _ = await moto.create_queue("slow")
    await moto.send(queue_url, jsonl_bodies([{"event_type": "team_updated", "team_id": "t"}]))
    config = SqsConfig(
        queue_url=queue_url, endpoint_url=moto.endpoint, wait_seconds=1, visibility_timeout=1
    )
    adapter = SqsAdapter(config)
    intake = MemoryIntake(delay=3.0)  # three visibility timeouts
    bus = Bus(adapter, intake, Backpressure(lambda: 0, 100))
    task = asyncio.create_task(bus.run())
    try:
        await until(lambda: intake.calls, 30, "the batch to reach intake")
        async with moto.client("sqs") as rival:
            for _ in range(4):  # a competing consumer sees nothing while it is persisted
                got = await rival.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)
                assert not got.get("Messages")
                await asyncio.sleep(0.6)
        await until(lambda: adapter.deleted == 1, 30, "the message to be deleted")
        assert adapter.visibility_extensions >= 2
        assert await moto.queue_depth(queue_url) == (0, 0)
        assert len(intake.calls) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_invalid_messages_can_be_left_to_the_queues_redrive_policy(
    moto: MotoServer,
) -> None:
    dlq_url, dlq_arn = await moto.create_queue("events-dlq")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    queue_url, _ = await moto.create_queue("events", RedrivePolicy=policy)
    valid = {"event_type": "team_updated", "team_id": "t"}
    await moto.send(queue_url, [b"not an event", *jsonl_bodies([valid])])
    config = SqsConfig(
        queue_url=queue_url,
        endpoint_url=moto.endpoint,
        wait_seconds=1,
        visibility_timeout=1,
        leave_invalid_to_redrive=True,
    )
    intake = MemoryIntake()
    bus = Bus(SqsAdapter(config), intake, Backpressure(lambda: 0, 100))
    task = asyncio.create_task(bus.run())
    try:
        deadline = time.monotonic() + 60
        while (await moto.queue_depth(dlq_url))[0] != 1:
            assert time.monotonic() < deadline, "the invalid message never reached the DLQ"
            await asyncio.sleep(0.5)
        assert await moto.queue_depth(queue_url) == (0, 0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert intake.events == [json.dumps(valid)]
    assert [raw for _, _, raw in intake.dead] == ["not an event"], (
        "dead-lettered once, not per receive"
    )
