"""Indexer pacing: commits on its interval, or at once when someone waits on the index."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mdsd import facts as F
from mdsd.base.pacing import STEP
from mdsd.index import Indexer, SearchIndex
from store import Add, FactStore


@pytest.fixture
def indexer(tmp_path: Path) -> Iterator[Indexer]:
    store = FactStore(tmp_path / "facts")
    store.install(F.SCHEMA)
    main = SearchIndex(tmp_path / "search" / "main")
    owners = SearchIndex(tmp_path / "search" / "owners")
    yield Indexer(store, main, owners)
    main.close()
    owners.close()
    store.close()


def write_model(indexer: Indexer, name: str) -> None:
    xid = f"aip://model/registry/{name}"
    report = indexer.store.transact(
        [Add(xid, F.TYPE, "Model"), Add(xid, F.NAME, name), Add(xid, F.STATUS, "resolved")],
        {"origin": "test"},
    )
    assert report is not None
    indexer.note(report)


async def test_flush_soon_commits_before_the_interval_ends(indexer: Indexer) -> None:
    runner = asyncio.create_task(indexer.run(interval_seconds=3600))
    try:
        write_model(indexer, "churn-model")
        await asyncio.sleep(0.2)
        assert indexer.behind, "nothing commits before the interval without a request"
        assert indexer.main.search("churn-model") == []
        indexer.flush_soon()
        async with asyncio.timeout(5):
            while indexer.behind:
                await asyncio.sleep(0.01)
        assert [h.id for h in indexer.main.search("churn-model")] == [
            "aip://model/registry/churn-model"
        ]
        assert indexer.main.indexed_tx == indexer.store.last_tx
    finally:
        runner.cancel()


async def test_commits_on_the_interval_unasked(indexer: Indexer) -> None:
    runner = asyncio.create_task(indexer.run(interval_seconds=0.05))
    try:
        write_model(indexer, "ranking-model")
        async with asyncio.timeout(5):
            while indexer.behind:
                await asyncio.sleep(0.01)
        assert indexer.main.search("ranking-model")[0].id == "aip://model/registry/ranking-model"
    finally:
        runner.cancel()


async def test_a_large_flush_lets_the_event_loop_through(indexer: Indexer) -> None:
    """Building hundreds of documents yields between steps: a query waiting on the loop
    is answered while the batch is built, not only once the commit is in its thread; and
    ``behind`` holds meanwhile, so ``wait --idle`` cannot answer early."""
    for i in range(3 * STEP):
        write_model(indexer, f"model-{i}")
    ticks: list[bool] = []
    ticks_before_commit: list[int] = []
    commit = indexer._apply

    def counted_commit(batch: Any) -> None:
        ticks_before_commit.append(len(ticks))
        commit(batch)

    async def query_meanwhile() -> None:
        while True:
            ticks.append(indexer.behind)
            await asyncio.sleep(0)

    indexer._apply = counted_commit  # type: ignore[method-assign]
    ticker = asyncio.create_task(query_meanwhile())
    await asyncio.sleep(0)
    ticks.clear()
    try:
        flushed = await indexer.flush_in_background()
    finally:
        ticker.cancel()
    assert flushed == 3 * STEP
    assert ticks_before_commit[0] >= 2, "the loop was held while the documents were built"
    assert all(ticks[: ticks_before_commit[0]])
    assert not indexer.behind
    assert indexer.main.search("model-7")[0].id == "aip://model/registry/model-7"
