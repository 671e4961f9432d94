"""Units fetched together are written together: fewer transactions than units, each handed
on once, and a unit whose data cannot be written fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Set as AbstractSet

from mds.wire.model import EntityType, NormalizedEntity
from mdsd.connectors import Hydrated
from mdsd.hydration.fetching import Fetched, Fetcher, SourceStats
from mdsd.hydration.hydrator import Hydrator
from mdsd.hydration.writer import Writer
from mdsd.intake.journal import Journal
from store import TxReport

UNITS = [f"aip://model/registry/m{i}" for i in range(8)]


class HeldFetcher(Fetcher):
    """Answers each unit with a model once ``release`` is set: all of them at one turn.
    The ``bad`` unit carries a value no attribute can hold."""

    def __init__(self, bad: str | None = None) -> None:
        self.release = asyncio.Event()
        self.bad = bad

    @property
    def sources(self) -> AbstractSet[str]:
        return {"registry"}

    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        await self.release.wait()
        native = unit.rsplit("/", 1)[1]
        attributes = {"stage": object()} if unit == self.bad else {"stage": "prod"}
        model = NormalizedEntity(
            id=unit,
            entity_type=EntityType.MODEL,
            source=source,
            native_id=native,
            name=native,
            attributes=attributes,
        )
        return Fetched(Hydrated([model]), {})

    async def stats(self) -> SourceStats:
        return {}


async def hydrate(
    parts: tuple[Journal, Writer], fetcher: HeldFetcher
) -> tuple[Hydrator, list[TxReport]]:
    journal, writer = parts
    committed: list[TxReport] = []
    hydrator = Hydrator(
        journal, fetcher, writer, committed.append, workers=8, source_limits={"registry": 8}
    )
    for seq, unit in enumerate(UNITS, 1):
        hydrator.schedule("registry", unit, seq=seq)
    await hydrator.start()
    try:
        await asyncio.sleep(0.05)  # every unit's fetch is waiting
        fetcher.release.set()
        async with asyncio.timeout(10):
            await hydrator.wait_idle()
    finally:
        await hydrator.stop()
    return hydrator, committed


async def test_units_fetched_together_share_a_transaction(parts: tuple[Journal, Writer]) -> None:
    hydrator, committed = await hydrate(parts, HeldFetcher())
    assert hydrator.stats.hydrated == len(UNITS)
    assert len(committed) < len(UNITS)
    assert len({r.tx for r in committed}) == len(committed), "each handed on once"
    db = parts[1].store.db()
    assert all(db.entid(unit) is not None for unit in UNITS)
    assert {u for r in committed for u in r.meta.get("units", [r.meta.get("unit")])} == set(UNITS)


async def test_a_unit_that_cannot_be_written_fails_alone(parts: tuple[Journal, Writer]) -> None:
    bad = UNITS[3]
    hydrator, _ = await hydrate(parts, HeldFetcher(bad=bad))
    assert hydrator.stats.dead_lettered == 1
    assert hydrator.stats.hydrated == len(UNITS) - 1
    db = parts[1].store.db()
    assert [u for u in UNITS if db.entid(u) is None] == [bad]
