"""The hydrator serves sources in turn: a slow or rate-limited source never starves the rest."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Set as AbstractSet

from mds.testing import SOURCES as PLATFORM_SOURCES
from mdsd.config import DaemonConfig
from mdsd.connectors import Gone
from mdsd.connectors.policy import SourcePolicy
from mdsd.hydration.fetching import Fetched, Fetcher, SourceStats
from mdsd.hydration.hydrator import Hydrator
from mdsd.hydration.writer import Writer
from mdsd.intake.journal import Journal

FETCHABLE = frozenset({"slow", "fast", *PLATFORM_SOURCES})


class GatedFetcher(Fetcher):
    """Answers ``Gone`` at once for ``fast`` units; the others wait for ``release``."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.done: list[str] = []

    @property
    def sources(self) -> AbstractSet[str]:
        return FETCHABLE

    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        self.in_flight[source] += 1
        self.most_in_flight[source] = max(self.most_in_flight[source], self.in_flight[source])
        try:
            if source != "fast":
                await self.release.wait()
            self.done.append(unit)
            return Fetched(Gone(unit), {})
        finally:
            self.in_flight[source] -= 1

    async def stats(self) -> SourceStats:
        return {}


async def test_a_blocked_source_leaves_workers_for_the_others(
    parts: tuple[Journal, Writer],
) -> None:
    journal, writer = parts
    fetcher = GatedFetcher()
    hydrator = Hydrator(
        journal,
        fetcher,
        writer,
        lambda report: None,
        workers=16,
        source_limits={"slow": 3, "fast": 2},
    )
    for i in range(40):  # the slow source's units come first, as in a backfill
        hydrator.schedule("slow", f"aip://model/slow/m{i}", seq=i + 1)
    fast = [f"aip://model/fast/m{i}" for i in range(10)]
    for i, unit in enumerate(fast):
        hydrator.schedule("fast", unit, seq=100 + i)
    await hydrator.start()
    try:
        async with asyncio.timeout(5):
            while not set(fast) <= set(fetcher.done):
                await asyncio.sleep(0.01)
        assert fetcher.in_flight["slow"] == 3, "the slow source holds only its own slots"
        assert hydrator.by_source() == {
            "fast": {"queued": 0, "in_flight": 0},
            "slow": {"queued": 37, "in_flight": 3},
        }
        assert fetcher.most_in_flight["fast"] <= 2
        fetcher.release.set()
        async with asyncio.timeout(5):
            await hydrator.wait_idle()
        assert len(fetcher.done) == 50
        assert fetcher.most_in_flight["slow"] == 3
    finally:
        await hydrator.stop()


async def test_by_default_every_source_hydrates_at_once(parts: tuple[Journal, Writer]) -> None:
    """Units queued source after source (as a backfill emits them): with the default
    worker count, each source has its full concurrency in flight from the start, so the
    last source's reads are not left until the others' are done."""
    journal, writer = parts
    fetcher = GatedFetcher()
    concurrency = SourcePolicy(base_url="http://s").concurrency
    hydrator = Hydrator(
        journal,
        fetcher,
        writer,
        lambda report: None,
        workers=DaemonConfig().workers,
        source_limits=dict.fromkeys(PLATFORM_SOURCES, concurrency),
    )
    seq = 0
    for source in PLATFORM_SOURCES:
        for i in range(3 * concurrency):
            seq += 1
            hydrator.schedule(source, f"aip://model/{source}/m{i}", seq=seq)
    await hydrator.start()
    try:
        async with asyncio.timeout(5):
            while sum(fetcher.in_flight.values()) < len(PLATFORM_SOURCES) * concurrency:
                await asyncio.sleep(0.01)
        assert {s: fetcher.in_flight[s] for s in PLATFORM_SOURCES} == dict.fromkeys(
            PLATFORM_SOURCES, concurrency
        )
    finally:
        fetcher.release.set()
        await hydrator.stop()
