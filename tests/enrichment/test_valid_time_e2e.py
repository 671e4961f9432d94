"""The daemon on a simulated world answers for the world's own past (contract 4, issue 17).

A world is generated with a year of dated history and hydrated into a real daemon; the
graph as of New Year's midnight 2025 (valid time) is the world as it was then: the
reference slice's v5, registered that morning, is absent; v4, of December 23rd, is there
with its run, model and features, and its upstream lineage reaches its training data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from mds.wire.model import EntityType, Rel, aip_id, lineage_steps
from mdsd import facts as F
from mdsd.daemon import Daemon
from mdsd.demo import demo_config
from simulator import CallbackSink, World, reference, run_simulator
from store import Db

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

WHEN = datetime(2025, 1, 1, tzinfo=UTC)
IDLE_TIMEOUT = 120.0


def ref(kind: EntityType, source: str, native: str) -> str:
    return aip_id(kind, source, native)


V5 = ref(EntityType.MODEL_INSTANCE, "registry", reference.INSTANCE)
MODEL = ref(EntityType.MODEL, "registry", reference.MODEL)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hydrated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[World, Daemon]]:
    world = World.generate(size=300, seed=5)
    ready = asyncio.Event()
    holder: dict[str, Daemon] = {}

    async def into_daemon(events: list[dict[str, Any]]) -> None:
        await ready.wait()
        if holder["daemon"].ready:
            raw = "\n".join(map(json.dumps, events)).encode()
            await holder["daemon"].intake.submit(raw, "simulator")

    data: Path = tmp_path_factory.mktemp("mds")
    async with run_simulator(world, sink=CallbackSink(into_daemon)) as simulator:
        config = demo_config(simulator.base_url, data, data / "mdsd.sock")
        config.enrichment.interval_seconds = 1.0
        config.enrichment.retry_seconds = 0.5
        daemon = Daemon(config)
        await daemon.start()
        holder["daemon"] = daemon
        ready.set()
        try:
            assert simulator.emitter is not None
            initial = sum(1 for _ in world.initial_events())
            while simulator.emitter.stats.get("emitted", 0) < initial:
                await asyncio.sleep(0.1)
            assert await daemon.wait_idle(IDLE_TIMEOUT), await daemon.status()
            yield world, daemon
        finally:
            await daemon.stop()


def v4(world: World) -> dict[str, Any]:
    """The reference model's instance registered on December 23rd, 2024."""
    instances = world.truth()["collections"]["instances"]
    (native,) = [
        i
        for i, record in instances.items()
        if record["model_id"] == reference.MODEL and record["created_at"].startswith("2024-12-23")
    ]
    return {"id": native, **instances[native]}


def targets(db: Db, xid: str, rel: Rel) -> set[str | None]:
    e = db.entid(xid)
    assert e is not None, f"{xid} is absent"
    return {db.xid(t) for _, t in db.refs_out(e, [F.rel_attr(rel)])}


async def test_an_instance_created_after_when_is_absent_as_of_when(
    hydrated: tuple[World, Daemon],
) -> None:
    _, daemon = hydrated
    db = daemon.store.db()
    assert db.entid(V5) is not None, "it is there now"
    assert db.valid_at(WHEN).entid(V5) is None
    assert V5 not in targets(db.valid_at(WHEN), MODEL, Rel.CURRENT_INSTANCE)


async def test_one_created_before_is_there_with_its_run_model_and_features(
    hydrated: tuple[World, Daemon],
) -> None:
    world, daemon = hydrated
    record = v4(world)
    instance = ref(EntityType.MODEL_INSTANCE, "registry", record["id"])
    then = daemon.store.db().valid_at(WHEN)
    assert then.entid(instance) is not None
    assert targets(then, instance, Rel.INSTANCE_OF) == {MODEL}
    assert targets(then, instance, Rel.PRODUCED_BY) == {
        ref(EntityType.PIPELINE_RUN, "orchestrator", record["pipeline_run_id"])
    }
    assert targets(then, instance, Rel.USES_FEATURE) == {
        ref(EntityType.FEATURE, "featurestore", f) for f in record["feature_ids"]
    }
    e = then.entid(instance)
    assert e is not None and then.get(e, F.NAME) == record["id"]


async def test_its_upstream_lineage_as_of_when_reaches_its_training_data(
    hydrated: tuple[World, Daemon],
) -> None:
    world, daemon = hydrated
    record = v4(world)
    run = world.truth()["collections"]["pipeline-runs"][record["pipeline_run_id"]]
    then = daemon.store.db().valid_at(WHEN)
    e = then.entid(ref(EntityType.MODEL_INSTANCE, "registry", record["id"]))
    assert e is not None
    steps = [(F.rel_attr(rel), o) for rel, o in lineage_steps("upstream")]
    reached = {then.xid(n) for n in then.traverse([e], steps, max_depth=20).depth}
    training = {
        ref(EntityType.DATASET_VERSION, "datasets", f"{v['dataset_id']}@{v['version']}")
        for v in run["input_dataset_versions"]
    }
    assert training and training <= reached
    assert ref(EntityType.DATASET, "datasets", reference.DATASET) in reached
    assert ref(EntityType.DATASET, "datasets", reference.RAW_DATASET) in reached
    # nothing of the morning after: the versions of New Year's Day are not there yet
    assert not any(x and x.endswith("@2025-01-01") for x in reached)
