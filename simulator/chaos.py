"""Chaos knobs: how unreliable the simulated sources and their event stream are.

The contract promises the daemon nothing about sources or events (1.1, 1.2): responses fail
or are throttled, events are lost, repeated and reordered. These knobs make the simulator
misbehave in exactly those ways, reproducibly for a given seed.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Chaos:
    """Shares are probabilities in [0, 1]; all zero (the default) is a well-behaved platform."""

    #: share of API responses replaced by a 503
    fail_5xx: float = 0.0
    #: share of API responses replaced by a 429 with ``Retry-After: retry_after_s``
    rate_limit_429: float = 0.0
    retry_after_s: int = 1
    #: latency added to every API response, uniformly within +/- ``latency_jitter_ms``
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    #: share of events never delivered
    drop: float = 0.0
    #: share of events delivered twice (the copy somewhat later)
    duplicate: float = 0.0
    #: share of events held back and delivered after up to ``reorder_window`` later ones
    reorder: float = 0.0
    reorder_window: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fail_5xx", "rate_limit_429", "drop", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"chaos {name} must be a share in [0, 1], got {value}")
        if self.fail_5xx + self.rate_limit_429 > 1.0:
            raise ValueError("chaos fail_5xx + rate_limit_429 must not exceed 1")
        if min(self.latency_ms, self.latency_jitter_ms, self.retry_after_s) < 0:
            raise ValueError("chaos latencies and retry_after_s must not be negative")
        if self.reorder_window < 1:
            raise ValueError("chaos reorder_window must be at least 1")


class ResponseChaos:
    """Decides, request by request, whether a source misbehaves and how late it answers."""

    def __init__(self, chaos: Chaos) -> None:
        self.chaos = chaos
        self._rng = random.Random(chaos.seed)
        #: what was injected so far: ``5xx``, ``429``
        self.injected: Counter[str] = Counter()

    @property
    def active(self) -> bool:
        c = self.chaos
        return bool(c.fail_5xx or c.rate_limit_429 or c.latency_ms or c.latency_jitter_ms)

    def verdict(self) -> int | None:
        """The status to answer instead of the real response (503 or 429), or None."""
        roll = self._rng.random()
        if roll < self.chaos.fail_5xx:
            self.injected["5xx"] += 1
            return 503
        if roll < self.chaos.fail_5xx + self.chaos.rate_limit_429:
            self.injected["429"] += 1
            return 429
        return None

    def delay_s(self) -> float:
        """Seconds to wait before answering (never negative)."""
        c = self.chaos
        jitter = self._rng.uniform(-c.latency_jitter_ms, c.latency_jitter_ms)
        return max(0.0, c.latency_ms + jitter) / 1000.0


class EventChaos:
    """Drops, duplicates and reorders a stream of events passed through it batch by batch.

    Reordered events (and duplicate copies) are held back and released once up to
    ``reorder_window`` later events went through, so they really arrive out of order, even
    across batches; ``flush()`` releases whatever is still held.
    """

    def __init__(self, chaos: Chaos) -> None:
        self.chaos = chaos
        self._rng = random.Random(chaos.seed + 1)
        self._held: list[tuple[int, dict[str, Any]]] = []  # (events still to pass, event)
        #: what was injected so far: ``dropped``, ``duplicated``, ``reordered``
        self.injected: Counter[str] = Counter()

    def apply(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        c, rng = self.chaos, self._rng
        out: list[dict[str, Any]] = []
        for event in events:
            if rng.random() < c.drop:
                self.injected["dropped"] += 1
                continue
            if rng.random() < c.duplicate:
                self.injected["duplicated"] += 1
                self._hold(event)
            if rng.random() < c.reorder:
                self.injected["reordered"] += 1
                self._hold(event)
                continue
            out.append(event)
            out += self._release()
        return out

    def flush(self) -> list[dict[str, Any]]:
        held, self._held = self._held, []
        return [event for _, event in held]

    def _hold(self, event: dict[str, Any]) -> None:
        self._held.append((self._rng.randint(1, self.chaos.reorder_window), event))

    def _release(self) -> list[dict[str, Any]]:
        """One more event went through: release what has waited long enough."""
        if not self._held:
            return []
        ready = [event for wait, event in self._held if wait <= 1]
        self._held = [(wait - 1, event) for wait, event in self._held if wait > 1]
        return ready
