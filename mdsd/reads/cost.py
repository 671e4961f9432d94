"""What one read may cost, charged for the work it does, and how it shares the daemon.

A read's cost depends on the data, not on the question's length: four levels of
``relationships { target { ... } }`` under ten search hits is 167 characters of GraphQL and,
on a graph with busy hubs, millions of records visited (the same few thousand entities over
and over). Counting distinct entities let such a query hold the event loop for 18 s. So a
``Meter`` counts every record a read visits, repeats included, against a budget, and checks
a deadline; past either the read stops with ``TooCostly`` (an answer, never a stall).

Reads share one process with intake and hydration. A read on the event loop yields at its
charge points once it has run a slice (``pace``); a read in a worker thread gives the
interpreter lock away at the same points, so the loop's acknowledgements never wait behind
it for more than a slice. A 1 µs sleep is what hands the lock over: measured with a busy
thread beside the loop, its 1 ms timers were 5 ms late at the median without it and 0.12 ms
with it (``time.sleep(0)`` gave 1.2 ms at p99).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from store import Db

#: how long a read runs between two chances for the event loop
SLICE_SECONDS = 0.002
#: charges between two looks at the clock (a look costs more than a charge)
CLOCK_EVERY = 64
_GIL_HANDOFF_SECONDS = 1e-6
#: reads running at once; more wait their turn (each holds the interpreter lock in turns)
READ_THREADS = 4


class TooCostly(Exception):
    """The read visited more than its budget, or ran past its deadline; nothing was sent."""


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The most one request may do: records visited (repeats included) and seconds."""

    visits: int = 500_000
    seconds: float = 10.0


class Meter:
    """The cost of one request so far; ``charge`` raises ``TooCostly`` past the limits."""

    __slots__ = ("_calls", "_deadline", "_slice_end", "_stopped", "exceeded", "limits", "visits")

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.visits = 0
        self.exceeded = False
        #: why the read was stopped: every charge after raises it again at once
        self._stopped: TooCostly | None = None
        self._calls = 0
        now = time.monotonic()
        self._deadline = now + limits.seconds
        self._slice_end = now + SLICE_SECONDS

    def charge(self, visits: int = 1) -> bool:
        """Count ``visits`` records; True when the read has run a slice and should let the
        loop run (a read in a worker thread has already let it, by then).

        Once stopped, a read stops at its next charge, whichever part of it charges: the
        fan-out GraphQL query has thousands of fields pending when its deadline passes, and
        letting each run on to its next look at the clock took 3-20 s more."""
        if self._stopped is not None:
            raise TooCostly(*self._stopped.args)
        self.visits += visits
        if self.visits > self.limits.visits:
            raise self._stop(
                f"query too costly: it visits more than {self.limits.visits:,} records "
                "(repeats count); ask for less depth, fewer nested relationships or a "
                "smaller limit"
            )
        self._calls += 1
        if self._calls % CLOCK_EVERY != 1:  # the first charge looks too
            return False
        now = time.monotonic()
        if now > self._deadline:
            raise self.stop_overdue()
        if now < self._slice_end:
            return False
        if threading.current_thread() is not threading.main_thread():
            time.sleep(_GIL_HANDOFF_SECONDS)
        self._slice_end = time.monotonic() + SLICE_SECONDS
        return True

    def stop_overdue(self) -> TooCostly:
        """Stop the read for running past its deadline; the error that says so."""
        return self._stop(
            f"query too costly: it ran past its {self.limits.seconds:g} s deadline after "
            f"{self.visits:,} records; ask for less depth or fewer nested relationships"
        )

    def _stop(self, why: str) -> TooCostly:
        self.exceeded = True
        self._stopped = TooCostly(why)
        return self._stopped

    async def pace(self, visits: int = 1) -> None:
        """``charge`` for a read on the event loop: yields to it once a slice has run."""
        if self.charge(visits):
            await asyncio.sleep(0)


class MeteredDb(Db):
    """A ``Db`` view whose record reads are charged to a ``Meter``; views derived from it
    (``as_of``, ``valid_at``, ``since``) share the meter, so a read cannot escape it by
    moving in time."""

    def __init__(self, db: Db, meter: Meter) -> None:
        super().__init__(db.store, db.basis_tx, db.since_tx, db.valid)
        self.meter = meter

    def _derive(self, basis_tx: int, since_tx: int, valid: int) -> Db:
        return MeteredDb(Db(self.store, basis_tx, since_tx, valid), self.meter)

    def entity(self, e: int) -> dict[str, Any]:
        self.meter.charge()
        return super().entity(e)

    def get(self, e: int, attr: str) -> Any:
        self.meter.charge()
        return super().get(e, attr)

    def values(self, e: int, attrs: Sequence[str]) -> list[Any]:
        self.meter.charge()
        return super().values(e, attrs)

    def refs_out(self, e: int, attrs: Iterable[str] | None = None) -> list[tuple[str, int]]:
        self.meter.charge()
        return super().refs_out(e, attrs)

    def refs_in(self, e: int, attrs: Iterable[str] | None = None) -> list[tuple[str, int]]:
        self.meter.charge()
        return super().refs_in(e, attrs)

    def entities_with(self, attr: str) -> Any:
        for item in super().entities_with(attr):
            self.meter.charge()
            yield item

    def traverse(self, starts: Iterable[int], steps: Any, max_depth: int, **kwargs: Any) -> Any:
        # the walk is the store's hottest loop, bounded by its callers' ``max_nodes``: it is
        # charged for what it reached rather than metered inside
        walk = super().traverse(starts, steps, max_depth, **kwargs)
        self.meter.charge(len(walk.depth))
        return walk


class ReadRunner:
    """Runs reads on threads of their own, each charged to a fresh ``Meter``, and encodes
    their answers there too: the event loop only hands requests over and sends bytes.

    A read on the loop, even one that yields, floods its ready queue: the fan-out query kept
    thousands of GraphQL callbacks queued, and acknowledgements waited 0.9 s at the median
    behind them. On read threads they waited 14 ms (``bench/read_cost_bench.py``)."""

    def __init__(self, limits: ReadLimits, threads: int = READ_THREADS) -> None:
        self.limits = limits
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mds-read")

    async def query(self, db: Db, read: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``read(db, *args, **kwargs)``, its record reads metered, as encoded JSON."""
        metered = MeteredDb(db, Meter(self.limits))

        def run() -> bytes:
            return encode(read(metered, *args, **kwargs))

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def on_own_loop(self, read: Callable[[], Coroutine[Any, Any, Any]]) -> bytes:
        """The coroutine ``read()`` on a read thread's own event loop, as encoded JSON (for
        GraphQL, whose executor is async all the way down)."""

        def run() -> bytes:
            return encode(asyncio.run(read()))

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def start(self) -> None:
        """Get ready to read (worker processes start here)."""

    def close(self) -> None:
        """Stop taking reads; the ones running end at their deadline at the latest."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """``close``, and stop whatever else reads (worker processes)."""
        self.close()


def encode(answer: Any) -> bytes:
    """JSON by orjson: a 1,000-node lineage encodes in 0.5 ms instead of the stdlib's 3.8."""
    return orjson.dumps(answer, option=orjson.OPT_NON_STR_KEYS)
