"""Fixtures: a bare fact store with the daemon's schema, a reconciler handed only its
ports (that store, fake sources, a recording queue), and a running daemon whose sources
are scriptable fakes (``enrichment_fakes.FakeSource``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from enrichment_fakes import FakeJournal, FakeSource, Graph, Queue, daemon_config, start_daemon

from mdsd import facts as F
from mdsd.daemon import Daemon
from mdsd.enrichment.reconcile import Reconciler
from mdsd.enrichment.settings import ReconcileConfig
from store import FactStore

SOURCES = ("registry", "orchestrator", "experiments", "featurestore", "datasets", "identity")


@pytest.fixture
def store(tmp_path: Path) -> FactStore:
    facts = FactStore(tmp_path / "facts")
    facts.install(F.SCHEMA)
    yield facts
    facts.close()


@pytest.fixture
def graph(store: FactStore) -> Graph:
    return Graph(store)


@pytest.fixture
def sources() -> dict[str, FakeSource]:
    return {key: FakeSource(key) for key in SOURCES}


@pytest.fixture
async def daemon(tmp_path: Path, sources: dict[str, FakeSource]) -> AsyncIterator[Daemon]:
    running = await start_daemon(daemon_config(tmp_path / "data"), sources)
    yield running
    await running.stop()


@pytest.fixture
def daemon_graph(daemon: Daemon) -> Graph:
    """Writes into the running daemon, fanning out like hydration does."""
    return Graph(daemon.store, daemon.on_commit)


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def journal() -> FakeJournal:
    return FakeJournal()


@pytest.fixture
async def reconciler(
    tmp_path: Path,
    store: FactStore,
    journal: FakeJournal,
    sources: dict[str, FakeSource],
    queue: Queue,
) -> AsyncIterator[Reconciler]:
    """A reconciler on the bare store: what it queues lands in ``queue``, unhydrated."""
    running = Reconciler(
        store,
        journal,
        sources,
        enqueue=queue,
        settings=ReconcileConfig(),
        memo_path=tmp_path / "reconcile.sqlite3",
    )
    yield running
    await running.close()
