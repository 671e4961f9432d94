"""What the contenders share: the run configuration, timing and the result format.

Every contender answers the same operations over the same data and returns, per
operation, latency percentiles and a checksum of its answers; the orchestrator compares
checksums so that a fast wrong answer cannot pass unnoticed.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _peers.dataset import GRAPHS, Dataset, Queries, queries

HOPS = 6


@dataclass(frozen=True, slots=True)
class Config:
    entities: int
    starts: int
    pulls: int
    workdir: str
    #: which graph of ``dataset.GRAPHS``
    graph: str = "lineage"

    def load(self) -> tuple[Dataset, Queries]:
        """The data and the questions. The generated objects (a million or so) are frozen
        out of the garbage collector: they belong to the harness, and otherwise every
        full collection in the contender's process would walk them too."""
        data = GRAPHS[self.graph](self.entities)
        asked = queries(data, self.starts, self.pulls)
        gc.collect()
        gc.freeze()
        return data, asked


#: Warm runs per query: up to this many, while their total stays under ``REPEAT_BUDGET_S``.
REPEATS = 3
REPEAT_BUDGET_S = 0.02


def timed(
    fn: Callable[[Any], Any], args: Sequence[Any], repeats: int = 1
) -> tuple[list[float], list[Any]]:
    """Run ``fn`` on each argument; (latencies in microseconds, answers).

    With ``repeats`` > 1, each query runs up to that many times (fewer once the runs
    reach ``REPEAT_BUDGET_S``) and keeps its fastest run: on a shared machine a single run
    of a sub-millisecond query mostly measures the scheduler. Every contender is measured
    the same way.
    """
    latencies: list[float] = []
    answers: list[Any] = []
    clock = time.perf_counter
    for arg in args:
        best, spent, runs = float("inf"), 0.0, 0
        answer = None
        while runs < repeats and (runs == 0 or spent < REPEAT_BUDGET_S):
            start = clock()
            answer = fn(arg)
            took = clock() - start
            best, spent, runs = min(best, took), spent + took, runs + 1
        latencies.append(best * 1e6)
        answers.append(answer)
    return latencies, answers


def first_touch(
    fn: Callable[[Any], Any], args: Sequence[Any], checksum: Callable[[list[Any]], Any]
) -> dict[str, Any]:
    """Each query once, on what ``fn`` opens afresh for it (a store, a connection): its
    caches empty, the operating system's page cache warm. ``fn`` times the query alone
    and returns (microseconds, answer), so that opening is not counted."""
    latencies: list[float] = []
    answers: list[Any] = []
    for arg in args:
        took, answer = fn(arg)
        latencies.append(took)
        answers.append(answer)
    return summary(latencies, checksum(answers))


def summary(latencies: list[float], checksum: Any, **extra: Any) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "p50_us": statistics.median(ordered),
        "p90_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "checksum": checksum,
        **extra,
    }


def measure(
    fn: Callable[[Any], Any], args: Sequence[Any], checksum: Callable[[list[Any]], Any]
) -> dict[str, Any]:
    """A first pass over ``args`` (caches filling; its median is ``first_p50_us``), then
    the reported warm pass, each query's best of up to ``REPEATS`` runs."""
    first, _ = timed(fn, args)
    latencies, answers = timed(fn, args, REPEATS)
    return summary(latencies, checksum(answers), first_p50_us=statistics.median(first))


def pull_checksum(answers: list[tuple[int, float]]) -> list[float]:
    """Pulls answer (number of values incl. references both ways, score): summed."""
    return [sum(n for n, _ in answers), round(sum(s for _, s in answers), 4)]


def flat_pull_checksum(answers: list[dict[str, Any]]) -> list[float]:
    """``pull_checksum`` of pulls answered as flat dicts: a list counts its items, anything
    else one value."""
    counted = []
    for p in answers:
        values = sum(len(v) if isinstance(v, list) else 1 for v in p.values())
        counted.append((values, p["score"]))
    return pull_checksum(counted)


def reach_checksum(answers: list[int]) -> int:
    """Traversals answer the number of nodes reached (start included): summed."""
    return sum(answers)


def length_checksum(answers: list[Sequence[Any]]) -> int:
    """Reverse references answer the referring entities: their number, summed."""
    return sum(len(a) for a in answers)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def edge_count(data: Dataset) -> int:
    return sum(len(e.parents) for e in data.entities)
