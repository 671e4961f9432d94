"""The API's read worker process: REST queries and GraphQL, off the daemon's process.

``python -m mdsd.api.readers`` is what ``mdsd.reads.workers.ProcessReader`` starts for the
daemon. Beside the REST queries, it answers GraphQL, which needs more than the facts: the
search indexes (followed read-only, each search seeing the indexer's last commit, as it does
in the daemon) and the journal's hydration times (read from its SQLite, which WAL mode lets
another process read while the daemon writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from mds.wire import JSON
from mdsd.api.graphql.execute import execute_at
from mdsd.api.ports import Search as SearchPort
from mdsd.base.children import Handler, run_worker
from mdsd.index.search import IndexFollower
from mdsd.intake.journal import Journal
from mdsd.reads.cost import ReadLimits, encode
from mdsd.reads.search import Search
from mdsd.reads.units import NoAsks, UnitReads, UnitTimes
from mdsd.reads.workers import PASSED, Reading
from store import Db

#: the module ``ProcessReader`` runs for the daemon
READ_WORKER = "mdsd.api.readers"


@dataclass(frozen=True, slots=True)
class _Services:
    """What GraphQL needs of the daemon beyond the facts, as a worker has it."""

    search: SearchPort
    unit_times: Callable[[str], Awaitable[UnitTimes]]


class _ApiReading(Reading):
    """``read`` (REST) and ``graphql``, on a follower of the daemon's data dir."""

    def __init__(self, setup: dict[str, Any], journal: Journal) -> None:
        super().__init__(setup)
        data = Path(setup["data"])
        self.journal = journal
        search = Search(
            self.store,
            IndexFollower(data / "search" / "main"),
            IndexFollower(data / "search" / "owners"),
        )
        units = UnitReads(journal, setup["unit_of"], NoAsks())
        self.services = _Services(search, units.times)
        self.ops["graphql"] = self._graphql

    def _graphql(
        self,
        db: Db,
        limits: ReadLimits,
        body: Mapping[str, Any],
        as_of: str | None,
        known_at: str | None,
    ) -> bytes:
        answer: JSON = asyncio.run(execute_at(body, db, self.services, as_of, limits, known_at))
        return encode(answer)

    async def aclose(self) -> None:
        await super().aclose()
        await self.journal.close()


async def _reading(setup: dict[str, Any]) -> Handler:
    path = Path(setup["data"]) / "journal.sqlite3"
    connection = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
    return _ApiReading(setup, Journal(connection))


def main() -> None:
    run_worker(_reading, PASSED)


if __name__ == "__main__":
    main()
