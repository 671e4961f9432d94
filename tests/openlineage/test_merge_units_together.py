"""The hydrator merges queued OpenLineage units together: a burst of runs that share jobs and
datasets is a few transactions, not one per event; one unit's unreadable event fails that
unit alone, and a merge that fails is retried unit by unit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mdsd import facts as F
from mdsd.connectors import InvalidPayload, Observed
from mdsd.connectors.openlineage import Lineage, event_id, event_type, parse_lineage, unit_of
from mdsd.hydration.fetching import LocalFetcher
from mdsd.hydration.hydrator import Hydrator
from mdsd.hydration.writer import Writer
from mdsd.intake import journal as journal_module
from mdsd.intake.journal import Journal, QueuedEvent
from store import FactStore, TxReport
from tests.openlineage.events import run_event

RUNS = [f"3f5e83fa-3480-44ff-99c5-ff943904e{i:03d}" for i in range(40)]


async def no_users(emails: Sequence[str]) -> dict[str, str]:
    return {}


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = await Journal.open(tmp_path / "journal.sqlite")
    yield opened
    await opened.close()


async def queue(journal: Journal, hydrator: Hydrator, events: list[dict[str, Any]]) -> None:
    """As intake queues accepted events, then hands their units to the hydrator."""
    queued = []
    for event in events:
        parsed = parse_lineage(event)
        raw = json.dumps(event)
        unit, kind = unit_of(parsed), event_type(parsed)
        queued.append(QueuedEvent("openlineage", unit, kind, event_id(event), raw))
    hydrator.take(await journal.enqueue(queued, "test"), True)


def hydrator_of(
    journal: Journal, store: FactStore, reader: Any, commits: list[TxReport]
) -> Hydrator:
    return Hydrator(
        journal,
        LocalFetcher({}),  # nothing to fetch: the events are the content
        Writer(store),
        commits.append,
        workers=2,
        source_limits={"openlineage": 1},
        carried={"openlineage": reader},
    )


def status(store: FactStore, run: str) -> Any:
    db = store.db()
    e = db.entid(f"aip://pipeline-run/openlineage/{run}")
    return None if e is None else db.get(e, F.attr_key("status"))


async def test_a_burst_of_runs_is_a_few_transactions(journal: Journal, store: FactStore) -> None:
    commits: list[TxReport] = []
    hydrator = hydrator_of(journal, store, Lineage({}, no_users), commits)
    events = [
        run_event(kind, f"2025-03-01T10:0{minute}:00Z", run=run)
        for run in RUNS
        for kind, minute in (("START", 0), ("COMPLETE", 5))
    ]
    await queue(journal, hydrator, events)  # queued before the workers start: one batch
    await hydrator.start()
    await hydrator.wait_idle()
    await hydrator.stop()
    assert all(status(store, run) == "succeeded" for run in RUNS)
    # 80 events, one transaction each before; the job's and datasets' update times and
    # the runs' status are said at two moments: two transactions
    assert len(commits) == 2
    assert commits[0].meta["units"] == sorted(f"aip://pipeline-run/openlineage/{r}" for r in RUNS)
    assert await journal.pending_count() == 0


class Breaking(Lineage):
    """Reads as ``Lineage`` does, but one run's events cannot be read, and the first merge
    of a batch that holds another run fails mid-write."""

    def __init__(self, unreadable: str, failing: str) -> None:
        super().__init__({}, no_users)
        self.unreadable, self.failing = unreadable, failing
        self.batches: list[int] = []

    def read(self, events: Sequence[tuple[str, object]]) -> list[Observed]:
        if any(self.unreadable in raw for raw, _ in events):
            raise InvalidPayload("queued OpenLineage event: unreadable")
        return super().read(events)

    async def owned(self, observed: Sequence[Observed]) -> list[Observed]:
        self.batches.append(len(observed))
        if len(observed) > 2 and any(self.failing in str(o) for o in observed):
            raise RuntimeError("the writer's bug, one unit's data")
        return await super().owned(observed)


async def test_one_unit_fails_alone(journal: Journal, store: FactStore) -> None:
    reader = Breaking(unreadable=RUNS[0], failing=RUNS[1])
    hydrator = hydrator_of(journal, store, reader, [])
    events = [run_event("START", "2025-03-01T10:00:00Z", run=run) for run in RUNS[:6]]
    await queue(journal, hydrator, events)
    await hydrator.start()
    await hydrator.wait_idle()
    await hydrator.stop()
    # the batch of five readable runs failed; each was merged again by itself
    assert reader.batches[0] == 5 and reader.batches[1:] == [1] * 5
    assert [status(store, run) for run in RUNS[:6]] == [None] + ["running"] * 5
    letters = await journal.dead_letters()
    assert [letter.reason for letter in letters] == ["queued OpenLineage event: unreadable"]
    assert hydrator.stats.dead_lettered == 1
    assert await journal.pending_count() == 0


async def test_the_merge_uses_what_the_door_judged_while_it_is_held(tmp_path: Path) -> None:
    """The door's parsed event travels with the queued one, so the merge does not judge
    it again; after a restart (or once the unit is written) only the raw text is left."""
    event = run_event("START", "2025-03-01T10:00:00Z", run=RUNS[0])
    parsed = parse_lineage(event)
    unit = unit_of(parsed)
    journal = await Journal.open(tmp_path / "journal.sqlite")
    raw = json.dumps(event)
    queued = QueuedEvent("openlineage", unit, event_type(parsed), None, raw, parsed)
    [(_, _, seq)] = await journal.enqueue([queued], "test")
    assert await journal.carried([(unit, seq)]) == {unit: [(raw, parsed)]}
    # what is held is what the merge reads: the raw text is not judged again
    [said] = Lineage({}, no_users).read([("not JSON: never parsed", parsed)])
    assert said.at == parsed.at
    await journal.close()
    again = await Journal.open(tmp_path / "journal.sqlite")
    assert await again.carried([(unit, seq)]) == {unit: [(raw, None)]}
    [judged] = Lineage({}, no_users).read([(raw, None)])
    assert [e.id for e in judged.entities] == [e.id for e in said.entities]
    await again.close()


async def test_contents_held_are_bounded_and_let_go_once_written(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merging far behind, past ``MAX_HELD_CONTENTS`` events the merge judges raw text
    again; a unit written lets its contents go, making room."""
    monkeypatch.setattr(journal_module, "MAX_HELD_CONTENTS", 2)

    async def enqueue(run: str) -> tuple[str, int]:
        event = run_event("START", "2025-03-01T10:00:00Z", run=run)
        parsed = parse_lineage(event)
        unit = unit_of(parsed)
        queued = QueuedEvent("openlineage", unit, "START", None, json.dumps(event), parsed)
        [(_, _, seq)] = await journal.enqueue([queued], "test")
        return unit, seq

    async def held(unit: str, seq: int) -> bool:
        [(_, content)] = (await journal.carried([(unit, seq)]))[unit]
        return content is not None

    first, second, third = [await enqueue(run) for run in RUNS[:3]]
    assert [await held(*u) for u in (first, second, third)] == [True, True, False]
    await journal.complete([first])
    fourth = await enqueue(RUNS[3])
    assert [await held(*u) for u in (second, third, fourth)] == [True, False, True]
