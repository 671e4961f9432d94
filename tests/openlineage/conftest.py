"""Fixtures of the OpenLineage tests: an empty fact store with the daemon's schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mdsd import facts as F
from store import FactStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    with FactStore(tmp_path / "facts") as opened:
        opened.install(F.SCHEMA)
        yield opened
