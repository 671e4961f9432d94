"""A read worker hands back what a big read grew it by, and leaves small reads alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.base import memory
from mdsd.reads import queries
from mdsd.reads.cost import ReadLimits
from mdsd.reads.workers import Reading
from store import FactStore


@pytest.fixture
async def reading(tmp_path: Path) -> AsyncIterator[Reading]:
    with FactStore(tmp_path / "facts") as primary:
        primary.install(F.SCHEMA)
    worker = Reading({"data": str(tmp_path), "index": 0})
    yield worker
    await worker.aclose()


async def read(worker: Reading) -> bytes:
    # basis and since transactions, the valid time (None: the latest), the limits, the read
    request = (0, 0, None, ReadLimits(), queries.graph_history, (10, None), {})
    answer: bytes = await worker.answer("read", request)
    return answer


async def test_a_read_that_grew_the_worker_is_followed_by_a_trim(
    reading: Reading, monkeypatch: pytest.MonkeyPatch
) -> None:
    trims: list[bool] = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(True) or True)
    grown = reading._baseline + memory.TRIM_GROWTH_BYTES + 1
    monkeypatch.setattr(memory, "rss_bytes", lambda: grown)
    assert b"transactions" in await read(reading)
    assert trims == [True]
    await read(reading)  # the trim moved the baseline: no growth since, no second trim
    assert trims == [True]


async def test_a_small_read_is_not_followed_by_a_trim(
    reading: Reading, monkeypatch: pytest.MonkeyPatch
) -> None:
    trims: list[bool] = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(True) or True)
    monkeypatch.setattr(memory, "rss_bytes", lambda: reading._baseline)
    await read(reading)
    assert trims == []
