"""OpenLineage events on a Kafka topic, mixed with thin events, against a real broker: each
told apart by its shape, a malformed one a dead letter with its reason, and nothing the
bus acknowledged lost across a daemon killed mid-stream."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from mds.testing import DaemonProcess
from simulator.chaos import Chaos
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.buses.brokers import KafkaBroker, jsonl_bodies
from tests.buses.scenario import kill_mid_stream
from tests.e2e.conftest import graph_differences
from tests.openlineage.events import run_event

pytestmark = pytest.mark.slow

PARTITIONS = 3
START = "2025-05-01T08:00:00Z"
#: malformed OpenLineage events -> what their dead letter's reason names
MALFORMED = {
    json.dumps(run_event("START", START, run="not-a-uuid")): "run.runId",
    json.dumps(run_event("EXPLODED", START)): "eventType",
    json.dumps({**run_event("START", START), "eventTime": "yesterday"}): "eventTime",
}


def test_lineage_and_thin_events_on_one_topic_survive_a_kill_and_dead_letter_the_malformed(
    tmp_path: Path, kafka: KafkaBroker
) -> None:
    slow_source = Chaos(latency_ms=20.0, seed=11)
    with SimulatorThread(World.generate(size=150, seed=9), chaos=slow_source) as simulator:
        # the world's thin events and its landing jobs' OpenLineage events, some sent twice
        world_events = list(simulator.world.initial_events())
        lineage = [e for e in world_events if "eventType" in e]
        assert lineage and len(lineage) < len(world_events)
        rng = random.Random(7)
        world_events += rng.sample(world_events, len(world_events) // 5)
        bodies = jsonl_bodies(world_events) + [raw.encode() for raw in MALFORMED]
        rng.shuffle(bodies)  # a run's COMPLETE often before its START
        half = len(bodies) // 2
        asyncio.run(kafka.create_topic("mixed", PARTITIONS))
        asyncio.run(kafka.produce("mixed", bodies[:half], PARTITIONS))
        bus = {
            "bootstrap_servers": kafka.bootstrap,
            "topics": ["mixed"],
            "group_id": "mds-ol",
            "max_batch": 20,
        }
        daemon = DaemonProcess(
            tmp_path, simulator.base_url, extra={"intake": {"max_pending": 30}, "intake.kafka": bus}
        )
        daemon.start()
        try:
            kill_mid_stream(daemon, "kafka")
            asyncio.run(kafka.produce("mixed", bodies[half:], PARTITIONS))  # while it is down
            daemon.start()
            deadline = time.monotonic() + 240
            while sum(asyncio.run(kafka.committed("mds-ol", "mixed", PARTITIONS)).values()) < len(
                bodies
            ):
                assert time.monotonic() < deadline, daemon.log()[-3000:]
                time.sleep(0.5)
            assert daemon.call("wait_idle", 180.0)["idle"], daemon.log()[-3000:]
            truth = simulator.truth()
            assert graph_differences(daemon, truth) == []  # the landing runs are in the truth
            for run in truth["lineage"]["runs"]:
                page = daemon.call("entity", f"aip://pipeline-run/openlineage/{run['run_id']}")
                assert page["attributes"]["status"] == "succeeded", page
                assert page["attributes"]["started_at"] == run["started_at"].replace("Z", "+00:00")
            letters = daemon.call("dead_letters", limit=100)["dead_letters"]
            assert {letter["origin"] for letter in letters} == {"kafka:mixed"}
            reasons = {letter["raw"]: letter["reason"] for letter in letters}
            assert reasons.keys() == MALFORMED.keys()
            for raw, field in MALFORMED.items():
                assert field in reasons[raw], reasons[raw]
            assert daemon.stop() == 0
        finally:
            daemon.stop()
