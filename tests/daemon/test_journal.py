"""The intake journal under concurrent writers: every queued event keeps the seq of its own
row, so completing a unit up to that seq removes exactly what was hydrated."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mdsd.intake.journal import Journal, QueuedEvent


def event(unit: str, event_id: str | None = None) -> QueuedEvent:
    return QueuedEvent("registry", unit, "model_updated", event_id, "{}")


async def test_seqs_name_their_own_rows_while_other_writes_interleave(tmp_path: Path) -> None:
    """A dead letter or a unit's bookkeeping written between an enqueue's insert and its
    reading of the ids once handed that enqueue another table's row id: its units were
    completed up to the wrong seq and their rows stayed pending for ever."""
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    try:
        for _ in range(20):  # dead letter row ids run far ahead of the queue's
            await journal.dead_letter([("bad", "{}")], "socket")
        queued = await asyncio.gather(
            *(journal.enqueue([event(f"m{i}"), event(f"n{i}")], "socket") for i in range(30)),
            *(journal.dead_letter([("bad", "{}")], "socket") for _ in range(30)),
            *(journal.record_success([("registry", f"m{i}")]) for i in range(30)),
        )
        seqs = [item for batch in queued[:30] for item in batch]
        assert len({seq for _, _, seq in seqs}) == 60
        assert sorted(await journal.pending()) == sorted(seqs)
        await journal.complete((unit, seq) for _, unit, seq in seqs)
        assert await journal.pending_count() == 0
    finally:
        await journal.close()


async def test_a_redelivery_racing_its_original_is_queued_once(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    try:
        both = await asyncio.gather(
            *(journal.enqueue([event("m", "e-1")], "socket") for _ in range(5))
        )
        assert sum(len(queued) for queued in both) == 1
        assert await journal.pending_count() == 1
    finally:
        await journal.close()


async def test_seqs_never_go_back_after_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path)
    ((_, _, first),) = await journal.enqueue([event("m")], "socket")
    await journal.complete([("m", first)])
    await journal.close()
    journal = await Journal.open(path)
    try:
        ((_, _, second),) = await journal.enqueue([event("m")], "socket")
        assert second > first  # a completed seq is never handed out again
    finally:
        await journal.close()


async def test_callers_that_come_during_a_write_share_the_next_one(tmp_path: Path) -> None:
    """Group commit: 50 senders of one event each cost a few transactions, not 50, and each
    hears the seq of its own event."""
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    writes = 0
    write = journal._enqueue_groups

    async def counted(groups):  # type: ignore[no-untyped-def]
        nonlocal writes
        writes += 1
        return await write(groups)

    journal._enqueue_groups = counted  # type: ignore[method-assign]
    try:
        queued = await asyncio.gather(*(journal.enqueue([event(f"m{i}")], "s") for i in range(50)))
        assert [unit for ((_, unit, _),) in queued] == [f"m{i}" for i in range(50)]
        assert writes <= 3, writes
        assert sorted(await journal.pending()) == sorted(item for (item,) in queued)
    finally:
        await journal.close()


async def test_a_write_that_fails_fails_every_caller_sharing_it(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    try:
        await journal.enqueue([event("first")], "s")  # the next calls wait for none
        broken = QueuedEvent("registry", "m", "model_updated", None, "\ud800")  # not UTF-8
        answers = await asyncio.gather(
            journal.enqueue([event("a")], "s"),
            journal.enqueue([broken], "s"),
            return_exceptions=True,
        )
        assert all(isinstance(answer, Exception) for answer in answers), answers
        assert await journal.pending_count() == 1, "nothing of theirs was queued"
        assert len(await journal.enqueue([event("a")], "s")) == 1, "and the next write works"
    finally:
        await journal.close()
