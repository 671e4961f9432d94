"""``mds status``'s entity counts: right after every write, computed off the event loop and
once per transaction however many ask at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.reads import counts as counting
from mdsd.reads.counts import EntityCounts
from store import Add, Db, FactStore


async def test_counts_follow_writes_and_are_counted_once_per_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = counting.count

    def counted(db: Db) -> dict[str, int]:
        calls.append(db.basis_tx)
        return real(db)

    monkeypatch.setattr(counting, "count", counted)
    with FactStore(tmp_path / "facts") as store:
        store.install(F.SCHEMA)
        store.transact([Add(f"aip://model/r/m{i}", F.STATUS, F.STATUS_RESOLVED) for i in range(3)])
        counts = EntityCounts(store)
        together = await asyncio.gather(*(counts.latest() for _ in range(20)))
        assert all(c == {"resolved": 3, "stub": 0, "deleted": 0} for c in together)
        assert calls == [1]
        store.transact([Add("aip://model/r/m0", F.STATUS, F.STATUS_DELETED)])
        assert await counts.latest() == {"resolved": 2, "stub": 0, "deleted": 1}
        assert calls == [1, 2]
