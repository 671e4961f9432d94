"""Fixtures of the end-to-end tests: the real ``mdsd --config`` as a subprocess on a temp
socket and data dir, its sources at a simulator in this process, loaded with the whole
world through the real ``mds ingest``.

The contract's shapes and the world's ground truth come from tests/api (``contract_shapes``,
``api_world``): the CLI prints the same documents the API answers.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent / "api"))

from api_world import Truth, jsonl
from e2e_support import Mdsd, Platform

from simulator import SimulatorThread, World

SIZE = 300
SEED = 11


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(World.generate(size=SIZE, seed=SEED)) as running:
        yield running


@pytest.fixture(scope="session")
def platform(
    simulator: SimulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    # pytest's temp dirs are private (0700); here only the daemon's own socket directory
    # may keep another user out, so the tests can tell that it does
    home = Path(tempfile.mkdtemp(prefix="mds-e2e-"))
    home.chmod(0o755)
    daemon = Mdsd.start(home, simulator.base_url)
    try:
        events = tmp_path_factory.mktemp("events") / "initial.jsonl"
        events.write_bytes(jsonl(simulator.world.initial_events()))
        ingested = daemon.mds("ingest", str(events), "--json")
        assert ingested.code == 0 and ingested.json["rejected"] == [], ingested
        idle = daemon.mds("wait", "--idle", "--timeout", "60")
        assert idle.code == 0, idle
        yield Platform(simulator, daemon, Truth.of(simulator.truth()))
    finally:
        daemon.terminate()
        shutil.rmtree(home, ignore_errors=True)
