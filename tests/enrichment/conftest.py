"""Fixtures: a bare fact store with the daemon's schema, and a running daemon whose
sources are scriptable fakes (``enrichment_fakes.FakeSource``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from enrichment_fakes import FakeSource, Graph, daemon_config, start_daemon

from mdsd import facts as F
from mdsd.daemon import Daemon
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
