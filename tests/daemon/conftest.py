"""Fixtures: a writer over a fresh fact store with mds's schema; with a journal beside it,
what a hydrator needs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.hydration.writer import Writer
from mdsd.intake.journal import Journal
from store import FactStore


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    store = FactStore(tmp_path / "facts")
    store.install(F.SCHEMA)
    yield Writer(store)
    store.close()


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Journal, Writer]]:
    """A journal and a writer, each over a fresh store."""
    store = FactStore(tmp_path / "facts")
    store.install(F.SCHEMA)
    journal = await Journal.open(tmp_path / "journal.sqlite")
    yield journal, Writer(store)
    await journal.close()
    store.close()
