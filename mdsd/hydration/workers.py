"""Hydration reads in worker processes: HTTP and normalization off the daemon's event loop.

The daemon's loop also writes facts, indexes, enriches and answers queries. With every
source read on it too, a backfill was bound by that one core: the HTTP client alone costs
more CPU per event than the transaction does. ``ProcessFetcher`` runs the reads in worker
processes (``python -m mdsd.hydration.workers``), each a ``LocalFetcher`` with its own
connectors, and talks to each over its stdin and stdout in length-prefixed pickles: private
pipes between one program's own processes.

A unit always goes to the same worker, so that worker's response cache and request
coalescing serve it. Each source's concurrency, rate and cache limits are split among the
workers: together they never ask more of a source than ``[sources.KEY]`` allows.

A worker that dies fails its in-flight reads with ``SourceUnavailable`` (the hydrator
retries them with backoff) and is started again at the next read (``mdsd.base.children``).
A read that has not come back within its source's ``timeout_seconds`` (the longest one
answer may take) makes the daemon ping the worker, and one that does not answer the ping
within ``PING_TIMEOUT_SECONDS`` is killed as hung. A worker that answers is working (a read
may wait for a slot, retry and back off) and is left to finish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import zlib
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from mdsd.base.children import (
    PING_TIMEOUT_SECONDS,
    WORKER_NICENESS,
    FrameWriter,
    Handler,
    WorkerSlot,
    encode_frame,
    read_frame,
    run_worker,
)
from mdsd.connectors import (
    Connector,
    InvalidPayload,
    SourcePolicy,
    SourceUnavailable,
    build_connectors,
)
from mdsd.hydration.fetching import Fetched, Fetcher, LocalFetcher, SourceStats

__all__ = [
    "WORKER_NICENESS",
    "FrameWriter",
    "ProcessFetcher",
    "encode_frame",
    "merge_stats",
    "read_frame",
    "share_of",
]

STATS_TIMEOUT_SECONDS = 2.0
_BREAKER_ORDER = {"closed": 0, "half_open": 1, "open": 2}


def share_of(policy: SourcePolicy, workers: int) -> SourcePolicy:
    """One worker's part of a source's limits: the workers together stay within them."""
    return dataclasses.replace(
        policy,
        concurrency=math.ceil(policy.concurrency / workers),
        rate_per_second=policy.rate_per_second / workers,
        burst=math.ceil(policy.burst / workers),
        cache_max_entries=math.ceil(policy.cache_max_entries / workers),
    )


def merge_stats(parts: list[dict[str, object]]) -> dict[str, object]:
    """One source's stats from several clients: counters and gauges add up, the breaker
    shows the worst state, and ``last_error`` is one that a client still reports."""
    merged: dict[str, object] = {}
    for part in parts:
        for key, value in part.items():
            held = merged.get(key)
            if key == "state" and isinstance(held, str) and isinstance(value, str):
                merged[key] = max(held, value, key=lambda s: _BREAKER_ORDER.get(s, 0))
            elif isinstance(held, int) and isinstance(value, int) and not isinstance(value, bool):
                merged[key] = held + value
            elif key not in merged or value is not None:
                merged[key] = value
    return merged


class ProcessFetcher(Fetcher):
    """Fetches in ``processes`` worker processes. ``local`` are the daemon's own connectors
    (they list sources for reconciliation); their counters join the workers' in ``stats``."""

    def __init__(
        self,
        policies: Mapping[str, SourcePolicy],
        local: Mapping[str, Connector],
        processes: int,
        log_level: str,
    ) -> None:
        if processes < 1:
            raise ValueError(f"ProcessFetcher needs at least one process, got {processes}")
        self._sources = frozenset(policies)
        #: per source, how long a read may take before its worker is checked
        self._deadlines = {key: policy.timeout_seconds for key, policy in policies.items()}
        self._local = local
        shares = {key: share_of(policy, processes) for key, policy in policies.items()}
        self._workers = [
            WorkerSlot(
                f"hydration worker {i}",
                "mdsd.hydration.workers",
                {"process": f"worker {i}", "policies": shares, "log_level": log_level},
                SourceUnavailable,
                PING_TIMEOUT_SECONDS,
            )
            for i in range(processes)
        ]

    @property
    def sources(self) -> AbstractSet[str]:
        return self._sources

    async def start(self) -> None:
        await asyncio.gather(*(worker.start() for worker in self._workers))

    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        worker = self._workers[zlib.crc32(unit.encode()) % len(self._workers)]
        fetched: Fetched = await worker.call(
            "fetch", source, unit, fresh, deadline=self._deadlines.get(source)
        )
        return fetched

    async def users_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        if not emails:
            return {}
        # one worker per set of emails: its identity client caches what it found
        worker = self._workers[zlib.crc32(min(emails).encode()) % len(self._workers)]
        found: dict[str, str] = await worker.call(
            "users", list(emails), deadline=self._deadlines.get("identity")
        )
        return found

    async def stats(self) -> SourceStats:
        async def of(worker: WorkerSlot) -> SourceStats:
            if worker.pid is None:
                return {}
            try:
                async with asyncio.timeout(STATS_TIMEOUT_SECONDS):
                    answer: SourceStats = await worker.call("stats")
                    return answer
            except (TimeoutError, SourceUnavailable):
                return {}

        parts = [{key: c.stats() for key, c in self._local.items()}]
        parts += await asyncio.gather(*(of(worker) for worker in self._workers))
        return {
            key: merge_stats([p[key] for p in parts if key in p]) for key in sorted(self._sources)
        }

    def processes(self) -> list[dict[str, object]]:
        return [{"pid": w.pid, "restarts": max(0, w.restarts)} for w in self._workers]

    async def aclose(self) -> None:
        await asyncio.gather(*(worker.aclose() for worker in self._workers))


# -- the worker process -----------------------------------------------------------------------


class _Fetching(Handler):
    """A worker's connectors, answering ``fetch``, ``users`` and ``stats``."""

    def __init__(self, setup: dict[str, Any]) -> None:
        self.fetcher = LocalFetcher(build_connectors(setup["policies"]))

    async def answer(self, op: str, args: tuple[Any, ...]) -> Any:
        if op == "fetch":
            source, unit, fresh = args
            return await self.fetcher.fetch(source, unit, fresh=fresh)
        if op == "users":
            (emails,) = args
            return await self.fetcher.users_by_email(emails)
        if op == "stats":
            return await self.fetcher.stats()
        raise RuntimeError(f"unknown call {op!r}")

    async def aclose(self) -> None:
        for connector in self.fetcher.connectors.values():
            await connector.aclose()


async def _fetching(setup: dict[str, Any]) -> Handler:
    return _Fetching(setup)


def main() -> None:
    run_worker(_fetching, (SourceUnavailable, InvalidPayload))


if __name__ == "__main__":
    main()
