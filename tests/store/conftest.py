"""Fixtures for the fact store tests: a small lineage-like schema on a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import SCHEMA

from store import FactStore


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "facts"


@pytest.fixture
def store(store_path: Path) -> Iterator[FactStore]:
    with FactStore(store_path) as opened:
        opened.install(SCHEMA)
        yield opened
