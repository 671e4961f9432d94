"""``mds status``'s entity counts: right after every write, computed off the event loop and
once per transaction however many ask at once; counted in full once, then moved by what
each transaction touched, and always equal to a full count."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mdsd import facts as F
from mdsd.reads import counts as counting
from mdsd.reads.counts import EntityCounts
from store import Add, Db, FactStore, Interpose, Replace

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def full_counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bases of the full counts made (``count``), in order."""
    calls: list[int] = []
    real = counting.count

    def counted(db: Db) -> dict[str, int]:
        calls.append(db.basis_tx)
        return real(db)

    monkeypatch.setattr(counting, "count", counted)
    return calls


async def test_counts_follow_writes_and_are_counted_once_per_transaction(
    tmp_path: Path, full_counts: list[int]
) -> None:
    with FactStore(tmp_path / "facts") as store:
        store.install(F.SCHEMA)
        store.transact([Add(f"aip://model/r/m{i}", F.STATUS, F.STATUS_RESOLVED) for i in range(3)])
        counts = EntityCounts(store)
        together = await asyncio.gather(*(counts.latest() for _ in range(20)))
        assert all(c == {"resolved": 3, "stub": 0, "deleted": 0} for c in together)
        assert full_counts == [1]
        store.transact([Replace("aip://model/r/m0", F.STATUS, (F.STATUS_DELETED,))])
        assert await counts.latest() == {"resolved": 2, "stub": 0, "deleted": 1}
        assert full_counts == [1, 2]  # 1 of 3 touched: counting 3 again is the cheaper


async def test_moved_counts_equal_a_full_count_through_any_writes(
    tmp_path: Path, full_counts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statuses set, replaced, slotted into the past (a late event: the latest value
    stays), new entities, and transactions that touch other attributes only."""
    monkeypatch.setattr(counting, "RECOUNT_SHARE", 1)  # move as long as it can
    rng = random.Random(23)
    ids = [f"aip://model/r/m{i}" for i in range(40)]
    with FactStore(tmp_path / "facts") as store:
        store.install(F.SCHEMA)
        store.transact([Add(xid, F.STATUS, F.STATUS_STUB) for xid in ids[:20]])
        counts = EntityCounts(store)
        await counts.latest()
        ids += [f"aip://model/r/new{i}" for i in range(10)]  # entities the writes create
        for step in range(60):
            ops = []
            for xid in rng.sample(ids, rng.randint(1, 6)):
                status = rng.choice(counting.STATUSES)
                moment = EPOCH + timedelta(days=rng.randint(0, 30))
                kind = rng.random()
                if kind < 0.5:
                    ops.append(Replace(xid, F.STATUS, (status,), valid=moment))
                elif kind < 0.8:
                    ops.append(Interpose(xid, F.STATUS, (status,), valid=moment))
                else:
                    ops.append(Replace(xid, F.NAME, (f"name {step}",)))
            store.transact(ops)
            if rng.random() < 0.6:  # some counts see several transactions at once
                db = store.db()
                full = {status: len(db.lookup(F.STATUS, status)) for status in counting.STATUSES}
                assert await counts.latest() == full, f"step {step}"
        assert len(full_counts) == 1  # the first: every later one moved


async def test_a_bulk_load_is_counted_again_in_full(
    tmp_path: Path, full_counts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counting, "RECOUNT_SHARE", 2)
    with FactStore(tmp_path / "facts") as store:
        store.install(F.SCHEMA)
        store.transact([Add(f"aip://model/r/s{i}", F.STATUS, F.STATUS_STUB) for i in range(4)])
        counts = EntityCounts(store)
        await counts.latest()
        store.transact([Add("aip://model/r/one", F.STATUS, F.STATUS_RESOLVED)])
        assert await counts.latest() == {"resolved": 1, "stub": 4, "deleted": 0}
        assert full_counts == [1]  # 1 of 4 touched: moved
        store.transact([Add(f"aip://model/r/m{i}", F.STATUS, F.STATUS_RESOLVED) for i in range(9)])
        assert await counts.latest() == {"resolved": 10, "stub": 4, "deleted": 0}
        assert full_counts == [1, 3]  # 9 of 5: counted again
