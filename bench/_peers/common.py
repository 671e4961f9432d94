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

from _peers.dataset import Dataset, Queries, generate, queries

HOPS = 6


@dataclass(frozen=True, slots=True)
class Config:
    entities: int
    starts: int
    pulls: int
    workdir: str

    def load(self) -> tuple[Dataset, Queries]:
        """The data and the questions. The generated objects (a million or so) are frozen
        out of the garbage collector: they belong to the harness, and otherwise every
        full collection in the contender's process would walk them too."""
        data = generate(self.entities)
        asked = queries(data, self.starts, self.pulls)
        gc.collect()
        gc.freeze()
        return data, asked


def timed(fn: Callable[[Any], Any], args: Sequence[Any]) -> tuple[list[float], list[Any]]:
    """Run ``fn`` on each argument; (latencies in microseconds, answers)."""
    latencies: list[float] = []
    answers: list[Any] = []
    clock = time.perf_counter
    for arg in args:
        start = clock()
        answer = fn(arg)
        latencies.append((clock() - start) * 1e6)
        answers.append(answer)
    return latencies, answers


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
    fn: Callable[[Any], Any],
    args: Sequence[Any],
    checksum: Callable[[list[Any]], Any],
    passes: int = 2,
) -> dict[str, Any]:
    """``passes`` runs over ``args``; the last one (warm) is reported, the first as
    ``first_p50_us`` (caches still filling)."""
    first: list[float] = []
    latencies: list[float] = []
    answers: list[Any] = []
    for i in range(passes):
        latencies, answers = timed(fn, args)
        if i == 0:
            first = latencies
    return summary(latencies, checksum(answers), first_p50_us=statistics.median(first))


def pull_checksum(answers: list[tuple[int, float]]) -> list[float]:
    """Pulls answer (number of values incl. references both ways, score): summed."""
    return [sum(n for n, _ in answers), round(sum(s for _, s in answers), 4)]


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
