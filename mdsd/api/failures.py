"""Failed authentications per client address, and when an address must wait.

An address with ``limit`` failures within ``window`` seconds is refused (429) until the
oldest of them is ``window`` old, whatever it sends meanwhile: answering a guess with 401
or 200 while limited would let the guessing go on. A token is 256 random bits, so this is
not what keeps it from being guessed; it keeps a misconfigured script or a scanner from
filling the logs and the daemon's time. Addresses tracked are capped, the least recent
failure going first, so many addresses cannot grow it without bound.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

#: failures an address may have within ``WINDOW_SECONDS`` before it waits
LIMIT = 10
WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000


class FailureLimiter:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> float:
        """Seconds ``address`` must wait before it is heard again; 0 when it may go on."""
        failures = self._failures.get(address)
        if failures is None:
            return 0.0
        now = self.clock()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return self.window - (now - failures[0])

    def failed(self, address: str) -> bool:
        """Count a failure of ``address``; True when that one reached the limit."""
        failures = self._failures.pop(address, None) or deque(maxlen=self.limit)
        failures.append(self.clock())
        self._failures[address] = failures  # last: the dict is ordered by latest failure
        while len(self._failures) > self.max_addresses:
            del self._failures[next(iter(self._failures))]
        return len(failures) == self.limit

    @property
    def limited(self) -> int:
        """Addresses waiting now."""
        return sum(1 for address in list(self._failures) if self.retry_after(address))
