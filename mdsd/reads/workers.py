"""Reads in worker processes: a heavy query shares no interpreter lock with intake.

A read on a thread of the daemon still takes turns at the one interpreter lock (and its
garbage collections) with the event loop: beside the worst reads, acknowledgements waited
620 ms at p99 against 7 ms idle. ``ProcessReader`` runs reads in worker processes (started,
watched and restarted like the fetch workers: ``mdsd.base.children``), each a ``Reading``:
a read-only follower of the fact store (a RocksDB secondary) that answers with the encoded
JSON, metered with the ``ReadLimits`` the request carries. The composition root names the
worker's module (the API's adds GraphQL to the REST queries).

Read-your-writes: a request carries the view the daemon pinned when it arrived (its basis
and since transactions, and its valid time), and a worker behind that basis catches up with the primary until
it has it. A worker at or past it reads without catching up, so a read costs a catch-up
(which also empties the follower's caches) only after writes.

Typed errors (``NotFound``, ``BadQuery``, ``TooCostly``...) come back as themselves, so the
API answers them as it does in-process. A worker that dies or hangs mid-read fails that
read with ``ReadUnavailable``; it is tried once more on a live worker (reads change
nothing), then answered 503.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from mds.wire.moments import AsOfError
from mdsd.base import memory
from mdsd.base.children import Handler, WorkerSlot
from mdsd.index import QueryError
from mdsd.reads.cost import Meter, MeteredDb, ReadLimits, ReadRunner, TooCostly, encode
from mdsd.reads.queries import BadQuery, NotFound
from store import Db, FactStore

log = logging.getLogger(__name__)

#: one request's work: ``op(view, limits, *args)`` as encoded JSON
Op = Callable[..., bytes]

#: a worker is pinged when a read is this much later than the read deadline
DEADLINE_GRACE_SECONDS = 5.0
#: how long a worker waits for the primary's commit a request needs before it gives up
CATCH_UP_SECONDS = 5.0
_CATCH_UP_PAUSE_SECONDS = 0.002
#: a follower that has not reached a request's transaction by then is opened again
REOPEN_AFTER_SECONDS = 1.0
#: the follower's decoded-entity caches (each catch-up empties them)
CACHE_ENTRIES = 200_000
BLOCK_CACHE_BYTES = 64 << 20


class ReadUnavailable(Exception):
    """No read worker could answer (it died or hung twice, or the daemon is stopping)."""


class ProcessReader(ReadRunner):
    """A ``ReadRunner`` whose reads run in ``processes`` worker processes of ``python -m
    module`` (a ``Reading``, built from ``setup``: ``data``, the daemon's data dir, and what
    else that module needs). ``on_own_loop`` still runs on the daemon's read threads."""

    def __init__(
        self,
        limits: ReadLimits,
        module: str,
        setup: dict[str, Any],
        processes: int,
        log_level: str,
    ) -> None:
        if processes < 1:
            raise ValueError(f"ProcessReader needs at least one process, got {processes}")
        super().__init__(limits)
        self._slots = [
            WorkerSlot(
                f"read worker {i}",
                module,
                {**setup, "process": f"reader {i}", "index": i, "log_level": log_level},
                ReadUnavailable,
            )
            for i in range(processes)
        ]
        self._starts: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the workers in the background: the daemon need not wait for them to be
        ready (a read that comes first waits for its worker)."""
        self._starts = [asyncio.create_task(self._start(slot)) for slot in self._slots]

    async def started(self) -> None:
        """Wait until the workers ``start`` began are up (or failed to start)."""
        await asyncio.gather(*self._starts)

    async def _start(self, slot: WorkerSlot) -> None:
        try:
            await slot.start()
        except ReadUnavailable as exc:  # the first read starts it again
            log.error("%s", exc)

    async def query(self, db: Db, read: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``read(db, *args, **kwargs)`` in a worker (``read`` a module-level function)."""
        return await self.run("read", db, read, args, kwargs)

    async def run(self, op: str, db: Db, *args: Any) -> bytes:
        """The worker ``op`` on the view ``db`` (its basis, since and valid times), in the
        least busy worker, as encoded JSON; once more elsewhere if that worker fails."""
        deadline = self.limits.seconds + DEADLINE_GRACE_SECONDS
        tried: WorkerSlot | None = None
        while True:
            slot = min(self._slots, key=lambda s: (s is tried, s.in_flight))
            try:
                answer: bytes = await slot.call(
                    op,
                    db.basis_tx,
                    db.since_tx,
                    db.valid_time,
                    self.limits,
                    *args,
                    deadline=deadline,
                )
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
        await self.started()
        await asyncio.gather(*(slot.aclose() for slot in self._slots))


# -- the worker process -----------------------------------------------------------------------

#: the errors a read worker sends back as they are (the API answers each as in-process)
PASSED: tuple[type[Exception], ...] = (
    NotFound,
    BadQuery,
    TooCostly,
    AsOfError,
    QueryError,
    ReadUnavailable,
)


class Reading(Handler):
    """A follower of the fact store under ``setup["data"]`` answering its ``ops`` one at a
    time, on a thread (the worker's loop stays free to answer pings), each on the view
    of the request, caught up to first. ``read`` runs a REST query."""

    def __init__(self, setup: dict[str, Any]) -> None:
        data = Path(setup["data"])
        self._follower = data / "followers" / str(setup["index"])
        self._follower.mkdir(parents=True, exist_ok=True)
        self._facts = data / "facts"
        self.store = self._open()
        self.ops: dict[str, Op] = {"read": _query}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mds-read")
        self._baseline = memory.rss_bytes()

    async def answer(self, op: str, args: tuple[Any, ...]) -> Any:
        run = self.ops.get(op)
        if run is None:
            raise RuntimeError(f"unknown call {op!r}")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, self._on_view, run, *args)
        finally:
            await loop.run_in_executor(self._thread, self._give_back)

    def _give_back(self) -> None:
        """After a read that grew the worker (a fan-out query's answer is hundreds of MB of
        objects, all garbage once sent), hand the memory back to the system: the worker
        reads one request at a time, so nothing of it is alive any more."""
        if memory.rss_bytes() < self._baseline + memory.TRIM_GROWTH_BYTES:
            return
        gc.collect()
        memory.trim()
        self._baseline = memory.rss_bytes()

    def _on_view(
        self,
        run: Op,
        basis_tx: int,
        since_tx: int,
        valid_time: datetime | None,
        limits: ReadLimits,
        *args: Any,
    ) -> bytes:
        self._reach(basis_tx)
        return run(Db(self.store, basis_tx, since_tx).valid_at(valid_time), limits, *args)

    def _open(self) -> FactStore:
        return FactStore(
            self._facts,
            secondary=self._follower,
            cache_entries=CACHE_ENTRIES,
            block_cache_bytes=BLOCK_CACHE_BYTES,
        )

    def _reach(self, basis_tx: int) -> None:
        """Catch up until the follower holds transaction ``basis_tx`` (the primary had
        committed it when the request arrived, so it is on its way).

        A follower that stops moving is opened afresh, once: after the primary made a
        checkpoint (``mdsd backup``) a follower stayed at the transaction before it, and
        every read after failed, where a new one reads the primary's current files."""
        give_up = time.monotonic() + CATCH_UP_SECONDS
        reopen_at: float | None = time.monotonic() + REOPEN_AFTER_SECONDS
        while self.store.last_tx < basis_tx:
            self.store.catch_up()
            if self.store.last_tx >= basis_tx:
                return
            if reopen_at is not None and time.monotonic() > reopen_at:
                log.warning("read follower stuck at tx %d; opening it again", self.store.last_tx)
                self.store.close()
                self.store = self._open()
                reopen_at = None
                continue
            if time.monotonic() > give_up:
                raise ReadUnavailable(
                    f"the read worker has transaction {self.store.last_tx}, the request "
                    f"needs {basis_tx}: the store's follower could not catch up"
                )
            time.sleep(_CATCH_UP_PAUSE_SECONDS)

    async def aclose(self) -> None:
        self._thread.shutdown(wait=True)
        self.store.close()


def _query(
    db: Db,
    limits: ReadLimits,
    read: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> bytes:
    return encode(read(MeteredDb(db, Meter(limits)), *args, **kwargs))
