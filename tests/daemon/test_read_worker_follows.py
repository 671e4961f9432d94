"""A read worker's follower that stops following the primary is opened again, once, and
the read it holds up is answered instead of failing (after ``mdsd backup``'s checkpoint a
follower once stayed behind for good, and every read after it answered 503)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.reads import workers
from mdsd.reads.workers import Reading
from store import Add, FactStore


async def test_a_stuck_follower_is_opened_again_and_reaches_the_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "REOPEN_AFTER_SECONDS", 0.05)
    with FactStore(tmp_path / "facts") as primary:
        primary.install(F.SCHEMA)
        worker = Reading({"data": str(tmp_path), "index": 0})
        try:
            stuck = worker.store
            monkeypatch.setattr(stuck, "catch_up", lambda: None)  # never moves again
            primary.transact([Add("aip://model/registry/m", F.NAME, "m")])
            worker._reach(primary.last_tx)
            assert worker.store is not stuck and worker.store.last_tx == primary.last_tx
        finally:
            await worker.aclose()
