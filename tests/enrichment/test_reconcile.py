"""Reconciliation against scriptable sources: what a pass queues, and what it must not.

What a pass decides is tested on a reconciler handed only its ports (a bare store, fake
sources, a recording queue); what its queued work becomes, in a running daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from enrichment_fakes import (
    ET,
    FakeJournal,
    FakeSource,
    Graph,
    Queue,
    aip,
    daemon_config,
    entity,
    instance_entity,
    run_entity,
    start_daemon,
)

from mds.wire.model import NormalizedEntity
from mdsd import facts as F
from mdsd.daemon import Daemon
from mdsd.enrichment.reconcile import Reconciler

STAMP_1 = "2025-01-01T00:00:00Z"
STAMP_2 = "2025-01-02T00:00:00Z"
M1 = aip(ET.MODEL, "ranker")


async def one_pass(reconciler: Reconciler) -> dict:
    started = reconciler.start()
    assert started["started"] is True
    report = await reconciler.wait()
    assert report is not None and report.number == started["pass"]
    return report.to_json()


async def reconcile(daemon: Daemon) -> dict:
    """One pass, and everything it queued hydrated."""
    report = await one_pass(daemon.reconciler)
    assert await daemon.wait_idle(10)
    return report


def status_of(daemon: Daemon, xid: str) -> str | None:
    db = daemon.store.db()
    e = db.entid(xid)
    return None if e is None else db.get(e, F.STATUS)


def model(updated_at: str, description: str = "ranks") -> NormalizedEntity:
    return entity(ET.MODEL, "ranker", description=description, updated_at=updated_at)


async def test_a_unit_whose_event_was_dropped_is_hydrated(
    daemon: Daemon, sources: dict[str, FakeSource]
) -> None:
    sources["registry"].add(model(STAMP_1))
    report = await reconcile(daemon)
    assert report["sources"]["registry"]["queued_by_reason"] == {"new": 1}
    assert status_of(daemon, M1) == F.STATUS_RESOLVED


async def test_only_what_changed_since_is_queued(
    daemon: Daemon, daemon_graph: Graph, sources: dict[str, FakeSource]
) -> None:
    daemon_graph.put(model(STAMP_1))
    sources["registry"].add(model(STAMP_1))
    assert (await reconcile(daemon))["queued"] == 0
    sources["registry"].add(model(STAMP_2, description="ranks better"))
    report = await reconcile(daemon)
    assert report["sources"]["registry"]["queued_by_reason"] == {"changed": 1}
    db = daemon.store.db()
    assert db.get(db.entid(M1), F.DESCRIPTION) == "ranks better"


async def test_units_without_updated_at_are_read_once_then_compared_by_listing(
    reconciler: Reconciler, graph: Graph, sources: dict[str, FakeSource], queue: Queue
) -> None:
    run = run_entity("train-1")
    graph.put(run)
    sources["orchestrator"].add(dataclasses.replace(run, updated_at=STAMP_1))
    first = await one_pass(reconciler)
    assert first["sources"]["orchestrator"]["queued_by_reason"] == {"unversioned": 1}
    assert (await one_pass(reconciler))["queued"] == 0
    sources["orchestrator"].add(dataclasses.replace(run, updated_at=STAMP_2))
    third = await one_pass(reconciler)
    assert third["sources"]["orchestrator"]["queued_by_reason"] == {"changed": 1}
    assert queue.units == [run.id, run.id]


async def test_a_unit_read_well_after_its_listed_time_is_not_read_again(
    reconciler: Reconciler,
    graph: Graph,
    sources: dict[str, FakeSource],
    journal: FakeJournal,
    queue: Queue,
) -> None:
    """A run (no updated_at in its payload) read an hour after its listing's time is taken
    as read, even on the first pass: an already correct graph re-reads nothing. One read
    within the clocks' skew of that time is read again, as one never read is."""
    listed = datetime.fromisoformat(STAMP_1.replace("Z", "+00:00")).timestamp()
    for name, read in (("read-late", listed + 3600), ("read-close", listed + 60), ("never", None)):
        run = run_entity(name)
        graph.put(run)
        sources["orchestrator"].add(dataclasses.replace(run, updated_at=STAMP_1))
        if read is not None:
            journal.read_at[run.id] = read
    first = await one_pass(reconciler)
    assert first["sources"]["orchestrator"]["queued_by_reason"] == {"unversioned": 2}
    assert sorted(queue.units) == sorted(run_entity(n).id for n in ("read-close", "never"))
    status = reconciler.status()
    assert status["in_step_as_of"] == first["started_at"]
    assert status["staleness_bound_seconds"] >= reconciler.config.interval_seconds


async def test_a_resolved_unit_no_longer_listed_is_found_deleted(
    daemon: Daemon, daemon_graph: Graph, sources: dict[str, FakeSource]
) -> None:
    daemon_graph.put(instance_entity("ranker-v5"))
    report = await reconcile(daemon)
    assert report["sources"]["registry"]["queued_by_reason"] == {"unlisted": 1}
    assert status_of(daemon, aip(ET.MODEL_INSTANCE, "ranker-v5")) == F.STATUS_DELETED


async def test_an_incomplete_listing_deletes_nothing(
    reconciler: Reconciler, graph: Graph, sources: dict[str, FakeSource], queue: Queue
) -> None:
    for i in range(4):
        graph.put(instance_entity(f"inst-{i}"))
        sources["registry"].add(instance_entity(f"inst-{i}"))
    sources["registry"].listing_fails = True
    report = await one_pass(reconciler)
    assert report["errors"] == ["registry: listing: injected outage"]
    assert "unlisted" not in report["sources"]["registry"]["queued_by_reason"]
    assert queue.events == []
    assert reconciler.status()["last"]["errors"] == report["errors"]


async def test_a_second_pass_does_not_start_while_one_runs(reconciler: Reconciler) -> None:
    first = reconciler.start()
    second = reconciler.start()
    assert first == {"started": True, "pass": 1}
    assert second["started"] is False and second["pass"] == 1
    await reconciler.wait()
    assert reconciler.start()["pass"] == 2


async def test_a_pass_that_breaks_is_reported_and_the_next_one_runs(
    reconciler: Reconciler, sources: dict[str, FakeSource]
) -> None:
    async def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("listing blew up")
        yield

    sources["registry"].list_units = broken  # type: ignore[method-assign]
    report = await one_pass(reconciler)
    assert report["errors"] == ["RuntimeError: listing blew up"]
    del sources["registry"]
    assert (await one_pass(reconciler))["errors"] == []


async def test_the_schedule_counts_from_the_last_pass_across_restarts(
    tmp_path: Path, sources: dict[str, FakeSource]
) -> None:
    """A daemon restarted more often than the interval still reconciles: the next pass is
    due an interval after the last one finished, not after this process started."""
    config = daemon_config(tmp_path / "data")
    hour = config.reconcile.interval_seconds
    first = await start_daemon(config, sources)
    try:
        before = time.time()
        await reconcile(first)
    finally:
        await first.stop()

    again = await start_daemon(config, sources)
    try:
        await asyncio.sleep(0.2)
        status = again.reconciler.status()
        assert status["passes"] == 0, "the last pass is recent: none is due at start"
        due = datetime.fromisoformat(status["next_pass_at"]).timestamp()
        assert before + hour <= due <= time.time() + hour
    finally:
        await again.stop()

    memo = sqlite3.connect(tmp_path / "data" / "reconcile.sqlite3")
    with memo:
        memo.execute("UPDATE last_pass SET finished_at = ?", (time.time() - 2 * hour,))
    memo.close()
    late = await start_daemon(config, sources)
    try:
        async with asyncio.timeout(5):
            while late.reconciler.passes == 0:
                await asyncio.sleep(0.02)
    finally:
        await late.stop()


async def test_a_pass_cut_short_runs_again_at_the_next_start(
    tmp_path: Path, sources: dict[str, FakeSource]
) -> None:
    """An acknowledged ``mds reconcile`` (or a due pass) that a kill or shutdown ended
    midway is not owed a whole interval: the next start runs one at once."""
    config = daemon_config(tmp_path / "data")
    listing = asyncio.Event()

    async def stuck():  # type: ignore[no-untyped-def]
        listing.set()
        await asyncio.Event().wait()
        yield

    first = await start_daemon(config, sources)
    try:
        sources["registry"].list_units = stuck  # type: ignore[method-assign]
        first.reconciler.start()
        await asyncio.wait_for(listing.wait(), 5)
    finally:
        await first.stop()  # the pass is cancelled midway, as a kill would leave it
    del sources["registry"].list_units
    sources["registry"].add(model(STAMP_1))
    again = await start_daemon(config, sources)
    try:
        async with asyncio.timeout(5):
            while again.reconciler.last is None:
                await asyncio.sleep(0.02)
        assert await again.wait_idle(10)
        assert status_of(again, M1) == F.STATUS_RESOLVED
    finally:
        await again.stop()


async def test_an_unreadable_memo_leaves_the_schedule_and_enrichment_running(
    tmp_path: Path, sources: dict[str, FakeSource]
) -> None:
    config = daemon_config(tmp_path / "data")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reconcile.sqlite3").mkdir()  # not a database: cannot be opened
    daemon = await start_daemon(config, sources)
    try:
        async with asyncio.timeout(5):
            while daemon.reconciler.next_pass_at is None:
                await asyncio.sleep(0.02)
        due = daemon.reconciler.next_pass_at
        assert due >= time.time() + config.reconcile.interval_seconds - 10
        report = await reconcile(daemon)
        assert report["errors"], "the pass says why it could not run"
    finally:
        await daemon.stop()
