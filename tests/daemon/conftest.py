"""Fixtures: a writer over a fresh fact store with mds's schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.hydration.writer import Writer
from store import FactStore


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    store = FactStore(tmp_path / "facts")
    store.install(F.SCHEMA)
    yield Writer(store)
    store.close()
