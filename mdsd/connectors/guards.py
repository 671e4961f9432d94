"""What keeps a client from hammering a source: a response cache, a rate limit, a breaker.

Plain mechanisms on an injectable clock (and sleep), knowing nothing of HTTP: the client in
``mdsd.connectors.http`` combines them, and connectors reuse the cache for their own lookups.
"""

from __future__ import annotations

import asyncio
import enum
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, Literal, TypeVar

__all__ = ["MISS", "BreakerState", "CircuitBreaker", "Clock", "Sleep", "TokenBucket", "TtlCache"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
BreakerState = Literal["closed", "open", "half_open"]


class _Miss(enum.Enum):
    MISS = enum.auto()


#: what ``TtlCache.get`` returns when it holds nothing fresh for the key
MISS = _Miss.MISS

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A bounded map whose entries expire; the oldest entry goes first when full.

    Each ``put`` also drops the expired entries at the old end, so what a burst of reads
    left is let go as new reads come, not held until the map fills."""

    def __init__(self, ttl_seconds: float, max_entries: int, clock: Clock) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | Literal[_Miss.MISS]:
        entry = self._entries.get(key)
        if entry is None:
            return MISS
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return MISS
        return value

    def put(self, key: K, value: V, ttl_seconds: float | None = None) -> None:
        ttl = self._ttl if ttl_seconds is None else ttl_seconds
        if ttl <= 0 or self._max <= 0:
            return
        now = self._clock()
        self._entries.pop(key, None)
        self._entries[key] = (now + ttl, value)
        while len(self._entries) > self._max or next(iter(self._entries.values()))[0] <= now:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class TokenBucket:
    """At most ``burst`` requests at once, refilled at ``rate`` per second; waiters queue."""

    def __init__(self, rate: float, burst: int, clock: Clock, sleep: Sleep) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = self._clock()
                self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1 - 1e-9:  # float refills fall a hair short
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                await self._sleep((1 - self._tokens) / self._rate)


class CircuitBreaker:
    """Stops calling a source that keeps failing, then lets one probe through.

    ``failures`` consecutive failures open it for ``reset_seconds``; after that it is
    half-open: one call probes the source while the others still fail fast, and the
    probe's outcome closes or reopens it.
    """

    def __init__(self, failures: int, reset_seconds: float, clock: Clock) -> None:
        self._threshold = failures
        self._reset = reset_seconds
        self._clock = clock
        self._open = False
        self._opened_at = 0.0
        self._probing = False
        self.consecutive_failures = 0

    @property
    def state(self) -> BreakerState:
        if not self._open:
            return "closed"
        return "half_open" if self._clock() >= self._opened_at + self._reset else "open"

    def retry_in(self) -> float:
        return max(0.0, self._opened_at + self._reset - self._clock())

    def enter(self) -> bool:
        """May a call go to the source now? In half-open state the caller becomes the probe."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def leave(self) -> None:
        """The call ended without an outcome (cancelled): let another call probe."""
        self._probing = False

    def success(self) -> None:
        self._open = self._probing = False
        self.consecutive_failures = 0

    def failure(self) -> None:
        self.consecutive_failures += 1
        if self._probing or self.consecutive_failures >= self._threshold:
            self._open, self._opened_at, self._probing = True, self._clock(), False
