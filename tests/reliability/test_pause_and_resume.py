"""A storage fault pauses the stage that hit it with its work kept, the doors refuse with
the reason, and everything resumes on its own; a background task that dies is restarted."""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import AsyncIterator, Iterator
from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest

from mds.testing import SOURCES
from mdsd import facts as F
from mdsd.api.rest import storage_error
from mdsd.base import storage
from mdsd.base.faults import IO, NO_SPACE, StorageFault
from mdsd.base.storage import StorageHealth
from mdsd.base.supervise import Supervisor
from mdsd.connectors import Gone, HydrationResult
from mdsd.hydration.fetching import Fetched, Fetcher, SourceStats
from mdsd.hydration.hydrator import Hydrator
from mdsd.hydration.writer import WriteOutcome, Writer
from mdsd.intake.doors import Intake
from mdsd.intake.journal import Journal, QueuedEvent
from store import FactStore

FAST = {"first_probe_seconds": 0.01, "max_probe_seconds": 0.02}


def full_disk() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


class GoneFetcher(Fetcher):
    """Every unit answers ``Gone`` (a write that deletes nothing: cheap and valid)."""

    @property
    def sources(self) -> AbstractSet[str]:
        return frozenset(SOURCES)

    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        return Fetched(Gone(unit), {})

    async def stats(self) -> SourceStats:
        return {}


class FailingWriter(Writer):
    """Fails its first ``failures`` writes with ``error``, then writes."""

    def __init__(self, store: FactStore, error: Exception, failures: int) -> None:
        super().__init__(store)
        self.error = error
        self.failures = failures
        self.written: list[str] = []

    def write(self, result: HydrationResult, owners: object, cause: dict) -> WriteOutcome:  # type: ignore[override]
        if self.failures:
            self.failures -= 1
            raise self.error
        assert isinstance(result, Gone)
        self.written.append(result.id)
        return WriteOutcome(report=None)


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    yield journal
    await journal.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    store = FactStore(tmp_path / "facts")
    store.install(F.SCHEMA)
    yield store
    store.close()


def events(n: int, start: int = 0) -> list[QueuedEvent]:
    return [
        QueuedEvent(
            "registry",
            f"aip://model/registry/m{i}",
            "model_updated",
            f"e{i}",
            json.dumps({"event_type": "model_updated", "model_id": f"m{i}"}),
        )
        for i in range(start, start + n)
    ]


async def hydrate(
    journal: Journal, writer: Writer, health: StorageHealth, work: list[QueuedEvent]
) -> Hydrator:
    """Queue ``work`` through intake and hydrate it all; the hydrator, stopped."""
    hydrator = Hydrator(
        journal, GoneFetcher(), writer, lambda report: None, workers=4, storage=health
    )
    intake = Intake(journal, hydrator.take, SOURCES, storage=health)
    assert await intake.enqueue(work, "socket") == len(work)
    await hydrator.start()
    try:
        async with asyncio.timeout(10):
            await hydrator.wait_idle()
    finally:
        await hydrator.stop()
        await health.close()
    return hydrator


async def test_a_unit_that_hits_a_full_disk_stays_queued_and_is_written_after(
    tmp_path: Path, journal: Journal, store: FactStore
) -> None:
    health = StorageHealth(tmp_path, **FAST)
    writer = FailingWriter(store, full_disk(), failures=3)
    hydrator = await hydrate(journal, writer, health, events(10))
    assert sorted(writer.written) == sorted(e.unit for e in events(10))
    assert await journal.dead_letter_count() == 0
    assert await journal.pending_count() == 0
    assert hydrator.stats.dead_lettered == 0
    status = health.status()
    assert status["state"] == "ok" and status["episodes"] >= 1
    assert "No space left on device" in status["last_error"]


async def test_a_bad_payload_is_still_a_dead_letter(
    tmp_path: Path, journal: Journal, store: FactStore
) -> None:
    health = StorageHealth(tmp_path, **FAST)
    writer = FailingWriter(store, KeyError("instance_ids"), failures=1)
    await hydrate(journal, writer, health, events(1))
    assert await journal.dead_letter_count() == 1
    assert health.ok and health.status()["faults"] == 0


async def test_the_doors_refuse_while_paused_and_take_work_once_resumed(
    tmp_path: Path, journal: Journal, store: FactStore
) -> None:
    recovered = asyncio.Event()
    attempts = 0

    def reopen() -> None:  # the store cannot be brought back on the first tries
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise full_disk()
        recovered.set()

    health = StorageHealth(tmp_path, **FAST)
    health.add_recovery("facts", reopen)
    hydrator = Hydrator(journal, GoneFetcher(), Writer(store), lambda r: None, workers=1)
    intake = Intake(journal, hydrator.take, SOURCES, storage=health)
    health.report("hydration", StorageFault("facts", NO_SPACE, "IO error: No space left"))
    body = json.dumps({"event_type": "model_updated", "model_id": "m1"}).encode()
    with pytest.raises(StorageFault) as refused:
        await intake.submit(body, "socket")
    assert refused.value.no_space
    assert "no space left" in str(refused.value) and "retry" in str(refused.value)
    assert await journal.pending_count() == 0, "nothing refused was queued"
    async with asyncio.timeout(5):
        await health.wait_ok()
    assert recovered.is_set() and attempts == 3
    assert (await intake.submit(body, "socket")).accepted == 1
    await health.close()


async def test_a_journal_write_that_fails_leaves_nothing_half_done(journal: Journal) -> None:
    await journal.enqueue(events(1), "socket")
    db = journal._db  # cap the database where it stands: the next pages do not fit
    async with db.execute("PRAGMA page_count") as cursor:
        (pages,) = await cursor.fetchone()  # type: ignore[misc]
    await db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageFault) as full:
        await journal.enqueue(events(200, start=1), "socket")
    assert full.value.no_space and full.value.store == "journal"
    assert await journal.pending_count() == 1
    await db.execute("PRAGMA max_page_count = 1073741823")
    # not remembered as seen: the sender's retry of the same events is queued
    assert len(await journal.enqueue(events(200, start=1), "socket")) == 200


def test_refusals_say_507_for_no_space_and_503_for_other_faults() -> None:
    full = storage_error(StorageFault("journal", NO_SPACE, "mdsd is not taking new work"))
    broken = storage_error(StorageFault("facts", IO, "mdsd is not taking new work"))
    assert (full.status_code, broken.status_code) == (507, 503)
    assert full.headers["Retry-After"] and broken.headers["Retry-After"]
    assert json.loads(full.body)["error"] == {
        "code": "insufficient_storage",
        "message": "mdsd is not taking new work",
    }


@pytest.mark.parametrize(
    ("ending", "last_error"),
    [("raises", "RuntimeError: ended on run 2"), ("returns", "returned")],
)
async def test_a_task_that_ends_is_restarted_and_counted(ending: str, last_error: str) -> None:
    supervisor = Supervisor(first_restart_seconds=0.01)
    runs = 0
    third = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            if ending == "raises":
                raise RuntimeError(f"ended on run {runs}")
            return
        third.set()
        await asyncio.Event().wait()

    supervisor.spawn(flaky, "flaky")
    async with asyncio.timeout(5):
        await third.wait()
    status = supervisor.status()
    assert status["running"] == 1 and status["restarts"] == 2
    assert status["restarted"]["flaky"]["last_error"] == last_error
    assert await supervisor.stop(timeout=5) == []


async def test_a_start_on_a_full_disk_waits_for_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes = 0

    def full_three_times(directory: Path, size: int = 0) -> None:
        nonlocal probes
        probes += 1
        if probes <= 3:
            raise full_disk()

    monkeypatch.setattr(storage, "write_probe", full_three_times)
    async with asyncio.timeout(5):
        assert await storage.wait_for_room(tmp_path, max_delay=0.01)
    assert probes == 4
    probes = 0
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    async with asyncio.timeout(5):  # a stop while it is full ends the wait
        assert not await storage.wait_for_room(tmp_path, stop, max_delay=10.0)


def test_the_probe_leaves_a_data_dir_not_made_yet_to_the_daemon(tmp_path: Path) -> None:
    storage.write_probe(tmp_path / "data")
    assert not (tmp_path / "data").exists()
    storage.write_probe(tmp_path)
    assert list(tmp_path.iterdir()) == []
