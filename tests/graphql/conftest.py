"""Fixtures: a started daemon in a temporary directory, and the organisation written into it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from graphql_org import Graph, build_org

from mdsd.api.settings import ApiConfig
from mdsd.config import Config, DaemonConfig
from mdsd.daemon import Daemon


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    # in-process reads: a daemon per test, and the API suite covers the read workers
    config = Config(
        daemon=DaemonConfig(data_dir=str(tmp_path / "data")), api=ApiConfig(read_processes=0)
    )
    d = Daemon(config)
    await d.start()
    try:
        yield d
    finally:
        await d.stop()


@pytest.fixture
def graph(daemon: Daemon) -> Graph:
    g = Graph(daemon)
    build_org(g)
    return g
