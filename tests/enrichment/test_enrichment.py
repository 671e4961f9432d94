"""The enrichment loop handed only its ports (what it commits and queues), and in a running
daemon: passes after commits, stub hydration through the durable intake with backoff,
wait-idle semantics, and state across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from enrichment_fakes import (
    ET,
    FakeJournal,
    FakeSource,
    Graph,
    Queue,
    ab_test_entities,
    aip,
    cell_id,
    committing,
    daemon_config,
    inferred_edges,
    instance_entity,
    run_entity,
    start_daemon,
    unit_of,
)

from mdsd import facts as F
from mdsd.base.storage import StorageHealth
from mdsd.daemon import Daemon
from mdsd.enrichment.loop import STATE_FILE, Enrichment
from mdsd.enrichment.settings import EnrichmentConfig
from store import FactStore

I1 = aip(ET.MODEL_INSTANCE, "ranker-v5")
R1 = aip(ET.PIPELINE_RUN, "train-1")
T1 = aip(ET.AB_TEST, "12345")


async def idle(daemon: Daemon, timeout: float = 10.0) -> None:
    assert await daemon.wait_idle(timeout), daemon.enrichment.status()


def status_of(daemon: Daemon, xid: str) -> str | None:
    db = daemon.store.db()
    e = db.entid(xid)
    return None if e is None else db.get(e, F.STATUS)


async def settled(enrichment: Enrichment) -> None:
    async with asyncio.timeout(5):
        while not enrichment.settled:
            await asyncio.sleep(0.02)


@pytest.fixture
async def enrichment(
    tmp_path: Path,
    store: FactStore,
    journal: FakeJournal,
    sources: dict[str, FakeSource],
    queue: Queue,
) -> AsyncIterator[Enrichment]:
    """The loop over the bare store, handed only its ports, running and settled."""
    loop = Enrichment(
        store,
        journal,
        commit=committing(store, lambda report: loop.note(report)),
        enqueue=queue,
        unit_of=unit_of(sources),
        settings=EnrichmentConfig(retry_seconds=60.0),
        state_path=tmp_path / STATE_FILE,
        storage=StorageHealth(tmp_path),
    )
    task = asyncio.create_task(loop.run())
    await settled(loop)
    yield loop
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_edges_are_committed_through_the_commit_port(
    enrichment: Enrichment, store: FactStore
) -> None:
    Graph(store, enrichment.note).chain("ranker-v5", "train-1", "12345", cell=2)
    await settled(enrichment)
    assert inferred_edges(store.db()) == {(I1, T1), (I1, cell_id("12345", 2))}


async def test_a_stub_is_queued_once_then_backs_off(
    enrichment: Enrichment, store: FactStore, journal: FakeJournal, queue: Queue
) -> None:
    graph = Graph(store, enrichment.note)
    graph.put(instance_entity("ranker-v5", run="train-1"))
    await settled(enrichment)
    assert [(origin, e.unit, e.event_type) for origin, e in queue.events] == [
        ("enrichment", R1, "enrichment:stub")
    ]
    assert I1 in journal.enriched
    graph.put(instance_entity("ranker-v6"))
    await settled(enrichment)
    assert queue.units == [R1], "asked again only after retry_seconds"


async def test_a_stub_already_queued_or_of_no_configured_source_is_not_asked_for(
    enrichment: Enrichment,
    store: FactStore,
    journal: FakeJournal,
    sources: dict[str, FakeSource],
    queue: Queue,
) -> None:
    journal.waiting.append(R1)
    del sources["featurestore"]
    Graph(store, enrichment.note).put(
        instance_entity("ranker-v5", run="train-1", features=["watch-time"])
    )
    await settled(enrichment)
    assert queue.events == []


async def test_a_commit_gets_its_edges_in_a_pass_shortly_after(
    daemon: Daemon, daemon_graph: Graph
) -> None:
    daemon_graph.chain("ranker-v5", "train-1", "12345", cell=2)
    assert not daemon.enrichment.settled
    await idle(daemon, 5.0)
    assert inferred_edges(daemon.store.db()) == {(I1, T1), (I1, cell_id("12345", 2))}
    passes = daemon.enrichment.status()["passes"]
    await asyncio.sleep(0.5)  # its own transaction does not trigger another pass
    assert daemon.enrichment.status()["passes"] == passes
    assert daemon.enrichment.settled


async def test_stubs_are_hydrated_through_their_unit_and_complete_the_path(
    daemon: Daemon, daemon_graph: Graph, sources: dict[str, FakeSource]
) -> None:
    sources["orchestrator"].add(run_entity("train-1", [("12345", 2)]))
    sources["experiments"].add(*ab_test_entities("12345", cells=(1, 2)))
    daemon_graph.put(instance_entity("ranker-v5", run="train-1"))
    assert status_of(daemon, R1) == F.STATUS_STUB
    await idle(daemon)
    assert status_of(daemon, R1) == F.STATUS_RESOLVED
    assert status_of(daemon, T1) == F.STATUS_RESOLVED
    # the cell stub was hydrated by hydrating its test, each unit exactly once
    assert sources["orchestrator"].hydrated == [R1]
    assert sources["experiments"].hydrated == [T1]
    assert inferred_edges(daemon.store.db()) == {(I1, T1), (I1, cell_id("12345", 2))}
    hydrated_at, enriched_at = await daemon.units.times(R1) or (None, None)
    assert hydrated_at is not None and enriched_at is not None


async def test_a_stub_of_an_unconfigured_source_is_not_due(
    daemon: Daemon, daemon_graph: Graph, sources: dict[str, FakeSource]
) -> None:
    del daemon.connectors["featurestore"]
    daemon_graph.put(instance_entity("ranker-v5", features=["watch-time"]))
    await idle(daemon)
    assert status_of(daemon, aip(ET.FEATURE, "watch-time")) == F.STATUS_STUB
    assert sources["featurestore"].hydrated == []


async def test_a_stub_its_unit_does_not_describe_backs_off_and_is_reported(
    daemon: Daemon, daemon_graph: Graph, sources: dict[str, FakeSource]
) -> None:
    daemon.config.enrichment.retry_seconds = 1.0
    sources["experiments"].add(*ab_test_entities("12345", cells=(1,)))
    daemon_graph.put(run_entity("train-1", [("12345", 7)]))  # cell 7 does not exist
    await idle(daemon)
    stray = cell_id("12345", 7)
    assert status_of(daemon, stray) == F.STATUS_STUB
    assert sources["experiments"].hydrated == [T1]
    status = daemon.enrichment.status()
    assert status["waiting_retry"] == 1
    await asyncio.sleep(1.1)  # asked again after retry_seconds, then waits twice as long
    await idle(daemon)
    assert sources["experiments"].hydrated == [T1, T1]
    report = await daemon.units.quality(daemon.store.db(), 7)
    (stub,) = report["unresolved_stubs"]
    assert stub["id"] == stray
    assert "after 2 hydration(s)" in stub["reason"]


async def test_a_failing_source_is_retried_with_backoff_not_asked_again(
    daemon: Daemon, daemon_graph: Graph, sources: dict[str, FakeSource]
) -> None:
    orchestrator = sources["orchestrator"]
    orchestrator.add(run_entity("train-1"))
    orchestrator.down.add(R1)
    daemon_graph.put(instance_entity("ranker-v5", run="train-1"))
    await asyncio.sleep(1.0)
    failing = (await daemon.status())["failing_units"]
    assert [f["unit"] for f in failing] == [R1]
    assert not await daemon.wait_idle(0.1)  # the hydration is still pending
    orchestrator.down.clear()
    await idle(daemon)
    assert status_of(daemon, R1) == F.STATUS_RESOLVED
    assert (await daemon.status())["failing_units"] == []


async def test_status_counts_the_work_of_one_change(daemon: Daemon, daemon_graph: Graph) -> None:
    for i in range(60):
        daemon_graph.chain(f"inst-{i}", f"run-{i}", str(1000 + i))
    await idle(daemon)
    daemon_graph.run("run-7", [])
    await idle(daemon)
    last = daemon.enrichment.status()["last_pass"]
    assert (last["anchors"], last["retracted"]) == (1, 2)
    assert last["examined"] < 20
    assert len(inferred_edges(daemon.store.db())) == 59 * 2


async def test_a_restart_replays_what_enrichment_missed(tmp_path: Path) -> None:
    config = daemon_config(tmp_path / "data")
    daemon = await start_daemon(config, {})
    Graph(daemon.store, daemon.on_commit).chain("ranker-v5", "train-1", "12345")
    await idle(daemon)
    await daemon.stop()

    store = FactStore(config.data_dir / "facts")  # a change enrichment never saw
    Graph(store).run("train-1", [])
    store.close()

    daemon = await start_daemon(config, {})
    try:
        await idle(daemon)
        assert inferred_edges(daemon.store.db()) == set()
        assert daemon.enrichment.status()["last_full_pass"] is None
    finally:
        await daemon.stop()


async def test_changed_rules_rederive_everything_at_start_up(tmp_path: Path) -> None:
    config = daemon_config(tmp_path / "data")
    daemon = await start_daemon(config, {})
    graph = Graph(daemon.store, daemon.on_commit)
    graph.chain("ranker-v5", "train-1", "12345")
    await idle(daemon)
    await daemon.stop()
    state = config.data_dir / STATE_FILE
    state.write_text(json.dumps({**json.loads(state.read_text()), "rules": "older"}))

    daemon = await start_daemon(config, {})
    try:
        await idle(daemon)
        assert daemon.enrichment.status()["last_full_pass"]["anchors"] == 1
        assert len(inferred_edges(daemon.store.db())) == 2
    finally:
        await daemon.stop()
