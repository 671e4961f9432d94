"""REST reads in worker processes: a heavy query shares no interpreter lock with intake.

A read on a thread of the daemon still takes turns at the one interpreter lock (and its
garbage collections) with the event loop: beside the worst reads, acknowledgements waited
620 ms at p99 against 7 ms idle. ``ProcessReader`` runs REST reads in worker processes
(``python -m mdsd.reads.workers``, started, watched and restarted like the fetch workers:
``mdsd.base.children``), each a read-only follower of the fact store (a RocksDB secondary)
that answers with the encoded JSON, metered with the ``ReadLimits`` the request carries.

Read-your-writes: a request carries the view the daemon pinned when it arrived (its basis
and since transactions), and a worker behind that basis catches up with the primary until
it has it. A worker at or past it reads without catching up, so a read costs a catch-up
(which also empties the follower's caches) only after writes.

Typed errors (``NotFound``, ``BadQuery``, ``TooCostly``...) come back as themselves, so the
API answers them as it does in-process. A worker that dies or hangs mid-read fails that
read with ``ReadUnavailable``; it is tried once more on a live worker (reads change
nothing), then answered 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mds.wire.moments import AsOfError
from mdsd.base.children import Handler, WorkerSlot, run_worker
from mdsd.index import QueryError
from mdsd.reads.cost import Meter, MeteredDb, ReadLimits, ReadRunner, TooCostly, encode
from mdsd.reads.queries import BadQuery, NotFound
from store import Db, FactStore

log = logging.getLogger(__name__)

#: a worker is pinged when a read is this much later than the read deadline
DEADLINE_GRACE_SECONDS = 5.0
#: how long a worker waits for the primary's commit a request needs before it gives up
CATCH_UP_SECONDS = 5.0
_CATCH_UP_PAUSE_SECONDS = 0.002
#: the follower's decoded-entity caches (each catch-up empties them)
CACHE_ENTRIES = 200_000
BLOCK_CACHE_BYTES = 64 << 20


class ReadUnavailable(Exception):
    """No read worker could answer (it died or hung twice, or the daemon is stopping)."""


class ProcessReader(ReadRunner):
    """A ``ReadRunner`` whose ``query`` runs in ``processes`` worker processes reading the
    store at ``facts`` (each keeps its follower's files under ``followers/<n>``). GraphQL
    (``on_own_loop``) still runs on the daemon's read threads."""

    def __init__(
        self, limits: ReadLimits, facts: Path, followers: Path, processes: int, log_level: str
    ) -> None:
        if processes < 1:
            raise ValueError(f"ProcessReader needs at least one process, got {processes}")
        super().__init__(limits)
        self._slots = [
            WorkerSlot(
                f"read worker {i}",
                "mdsd.reads.workers",
                {
                    "process": f"reader {i}",
                    "facts": str(facts),
                    "follower": str(followers / str(i)),
                    "log_level": log_level,
                },
                ReadUnavailable,
            )
            for i in range(processes)
        ]

    async def start(self) -> None:
        await asyncio.gather(*(slot.start() for slot in self._slots))

    async def query(self, db: Db, read: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``read(db, *args, **kwargs)`` in the least busy worker, as encoded JSON."""
        request = (db.basis_tx, db.since_tx, self.limits, read, args, kwargs)
        deadline = self.limits.seconds + DEADLINE_GRACE_SECONDS
        tried: WorkerSlot | None = None
        while True:
            slot = min(self._slots, key=lambda s: (s is tried, s.in_flight))
            try:
                answer: bytes = await slot.call("read", *request, deadline=deadline)
                return answer
            except ReadUnavailable:
                if tried is not None:
                    raise
                log.warning("retrying a read that %s failed", slot.name)
                tried = slot

    def processes(self) -> list[dict[str, object]]:
        """Each worker's pid (None while down) and how often it was started again."""
        return [{"pid": s.pid, "restarts": max(0, s.restarts)} for s in self._slots]

    async def aclose(self) -> None:
        self.close()
        await asyncio.gather(*(slot.aclose() for slot in self._slots))


# -- the worker process -----------------------------------------------------------------------


class _Reading(Handler):
    """A follower of the fact store answering ``read`` calls one at a time, on a thread
    (the worker's loop stays free to answer pings), caught up to each request's view."""

    def __init__(self, setup: dict[str, Any]) -> None:
        follower = Path(setup["follower"])
        follower.mkdir(parents=True, exist_ok=True)
        self.store = FactStore(
            setup["facts"],
            secondary=follower,
            cache_entries=CACHE_ENTRIES,
            block_cache_bytes=BLOCK_CACHE_BYTES,
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mds-read")

    async def answer(self, op: str, args: tuple[Any, ...]) -> Any:
        if op != "read":
            raise RuntimeError(f"unknown call {op!r}")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, *args)

    def _read(
        self,
        basis_tx: int,
        since_tx: int,
        limits: ReadLimits,
        read: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> bytes:
        self._reach(basis_tx)
        db = MeteredDb(Db(self.store, basis_tx, since_tx), Meter(limits))
        return encode(read(db, *args, **kwargs))

    def _reach(self, basis_tx: int) -> None:
        """Catch up until the follower holds transaction ``basis_tx`` (the primary had
        committed it when the request arrived, so it is on its way)."""
        give_up = time.monotonic() + CATCH_UP_SECONDS
        while self.store.last_tx < basis_tx:
            self.store.catch_up()
            if self.store.last_tx >= basis_tx:
                return
            if time.monotonic() > give_up:
                raise ReadUnavailable(
                    f"the read worker has transaction {self.store.last_tx}, the request "
                    f"needs {basis_tx}: the store's follower could not catch up"
                )
            time.sleep(_CATCH_UP_PAUSE_SECONDS)

    async def aclose(self) -> None:
        self._thread.shutdown(wait=True)
        self.store.close()


async def _reading(setup: dict[str, Any]) -> Handler:
    return _Reading(setup)


def main() -> None:
    run_worker(
        _reading, (NotFound, BadQuery, TooCostly, AsOfError, QueryError, ReadUnavailable)
    )


if __name__ == "__main__":
    main()
