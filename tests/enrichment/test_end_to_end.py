"""The real daemon against the simulator with chaos on (failing and throttled sources;
dropped, duplicated and reordered events): inferred edges equal what the simulator's raw
records imply, support removed retracts them (history keeps them), a dropped event is
recovered by one reconciliation pass, and one change is evaluated incrementally.

The tests share one world and one daemon and run in order, each leaving them idle.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from enrichment_fakes import ET, aip, expected_inferred, inferred_edges

from mdsd.daemon import Daemon
from mdsd.demo import demo_config
from simulator import CallbackSink, Chaos, Simulator, World, run_simulator

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

CHAOS = Chaos(
    fail_5xx=0.05,
    rate_limit_429=0.02,
    retry_after_s=0,
    drop=0.05,
    duplicate=0.05,
    reorder=0.1,
    seed=11,
)
IDLE_TIMEOUT = 180.0


@dataclass
class Platform:
    world: World
    simulator: Simulator
    daemon: Daemon

    async def idle(self) -> None:
        assert await self.daemon.wait_idle(IDLE_TIMEOUT), await self.daemon.status()

    async def deliver(self, events: list[dict[str, Any]]) -> None:
        """Events straight to the daemon, past the chaos (for changes a test must see)."""
        raw = "\n".join(json.dumps(e) for e in events).encode()
        await self.daemon.intake.submit(raw, "test")

    async def reconcile(self) -> dict[str, Any]:
        started = self.daemon.reconciler.start()
        assert started["started"]
        report = await self.daemon.reconciler.wait()
        assert report is not None
        await self.idle()
        return report.to_json()

    def precision_recall(self) -> tuple[float, float, set[Any], set[Any]]:
        want = expected_inferred(self.world.truth())
        got = inferred_edges(self.daemon.store.db())
        hits = len(want & got)
        return hits / max(len(got), 1), hits / max(len(want), 1), want - got, got - want

    def assert_exact(self) -> None:
        precision, recall, missing, extra = self.precision_recall()
        assert (precision, recall) == (1.0, 1.0), {"missing": missing, "extra": extra}


async def _until_emitted(simulator: Simulator, initial: int) -> None:
    """The emitter has delivered every initial event chaos did not drop (incl. held ones)."""
    assert simulator.emitter is not None
    while True:
        stats = simulator.emitter.stats
        if stats.get("emitted", 0) >= initial - stats.get("dropped", 0) + stats.get(
            "duplicated", 0
        ):
            return
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    world = World.generate(size=1200, seed=11)
    initial = sum(1 for _ in world.initial_events())
    ready = asyncio.Event()
    holder: dict[str, Daemon] = {}

    async def into_daemon(events: list[dict[str, Any]]) -> None:
        await ready.wait()
        daemon = holder["daemon"]
        if daemon.ready:  # after the daemon stops, late events have nowhere to go
            await daemon.intake.submit("\n".join(map(json.dumps, events)).encode(), "simulator")

    data: Path = tmp_path_factory.mktemp("mds")
    async with run_simulator(world, chaos=CHAOS, sink=CallbackSink(into_daemon)) as simulator:
        config = demo_config(simulator.base_url, data, data / "mdsd.sock")
        config.enrichment.interval_seconds = 1.0
        config.enrichment.retry_seconds = 0.5
        config.reconcile.interval_seconds = 3600.0
        daemon = Daemon(config)
        await daemon.start()
        holder["daemon"] = daemon
        ready.set()
        try:
            platform = Platform(world, simulator, daemon)
            await asyncio.wait_for(_until_emitted(simulator, initial), IDLE_TIMEOUT)
            await platform.idle()
            yield platform
        finally:
            await daemon.stop()


def _tested_runs(world: World) -> list[tuple[str, str]]:
    """(instance, its run) for instances whose run serves a cell, one instance per run."""
    truth = world.truth()["collections"]
    by_run = {
        instance["pipeline_run_id"]: native
        for native, instance in sorted(truth["instances"].items())
        if truth["pipeline-runs"][instance["pipeline_run_id"]]["ab_test_cells"]
    }
    return sorted((native, run) for run, native in by_run.items())


async def test_inferred_edges_are_exactly_what_the_truth_implies(platform: Platform) -> None:
    report = await platform.reconcile()  # recovers what chaos dropped at load
    assert report["errors"] == []
    assert len(expected_inferred(platform.world.truth())) > 20
    platform.assert_exact()
    assert platform.simulator.emitter is not None
    assert platform.simulator.emitter.stats.get("dropped", 0) > 0  # chaos really was on


async def test_support_going_away_retracts_and_history_keeps_it(platform: Platform) -> None:
    world, store = platform.world, platform.daemon.store
    (instance, run), (deleted, _) = _tested_runs(world)[:2]
    source = aip(ET.MODEL_INSTANCE, instance)
    before = store.last_tx
    assert any(s == source for s, _ in inferred_edges(store.db()))

    await platform.deliver(world.unassign_run(run, world.now))
    await platform.idle()
    platform.assert_exact()
    assert any(s == source for s, _ in inferred_edges(store.as_of(before)))

    gone = aip(ET.MODEL_INSTANCE, deleted)
    before = store.last_tx
    await platform.deliver(world.delete_instance(deleted, world.now))
    await platform.idle()
    platform.assert_exact()
    assert not any(s == gone for s, _ in inferred_edges(store.db()))
    assert any(s == gone for s, _ in inferred_edges(store.as_of(before)))


async def test_a_dropped_event_is_recovered_by_one_reconciliation(platform: Platform) -> None:
    world = platform.world
    instance, run = _tested_runs(world)[0]
    world.unassign_run(run, world.now)  # its events are never delivered
    await asyncio.sleep(1.5)
    await platform.idle()
    *_, extra = platform.precision_recall()
    assert {s for s, _ in extra} == {aip(ET.MODEL_INSTANCE, instance)}  # nothing told the daemon
    report = await platform.reconcile()
    assert report["sources"]["orchestrator"]["queued_by_reason"].get("changed", 0) >= 1
    platform.assert_exact()


async def test_one_change_costs_its_paths_not_the_graph(platform: Platform) -> None:
    world, enrichment = platform.world, platform.daemon.enrichment
    instance, _ = _tested_runs(world)[-1]
    examined_before = enrichment.status()["totals"]["examined"]
    await platform.deliver(world.retier("instances", instance, world.now))
    await platform.idle()
    incremental = enrichment.status()["totals"]["examined"] - examined_before
    full = (await enrichment.full_inference()).work.examined
    assert 0 < incremental * 20 < full, (incremental, full)
    platform.assert_exact()
