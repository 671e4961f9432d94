"""Backpressure: a bus stops taking messages while hydration is behind, and comes back alone.

Messages left in the broker cost the daemon nothing, while messages taken in grow its
queue and memory; so consumption pauses above ``max_pending`` units of queued work and
resumes once the queue has drained to half of that (hysteresis: no flapping at the limit).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Backpressure:
    def __init__(self, depth: Callable[[], int], max_pending: int) -> None:
        """``depth`` reads the current queue depth; it must be cheap (called per batch)."""
        self.depth = depth
        self.max_pending = max_pending
        self.resume_at = max_pending // 2
        self.paused = False
        self.pauses = 0
        self.paused_seconds = 0.0
        self._since = 0.0

    def should_pause(self) -> bool:
        """True when the queue is at the limit; starts a pause."""
        if not self.paused and self.depth() >= self.max_pending:
            self.paused = True
            self.pauses += 1
            self._since = time.monotonic()
        return self.paused

    def may_resume(self) -> bool:
        """True once a pause can end (the queue drained to ``resume_at``); ends it."""
        if self.paused and self.depth() <= self.resume_at:
            self.paused = False
            self.paused_seconds += time.monotonic() - self._since
        return not self.paused

    def to_json(self) -> dict[str, object]:
        ongoing = time.monotonic() - self._since if self.paused else 0.0
        return {
            "paused": self.paused,
            "pauses": self.pauses,
            "paused_seconds": round(self.paused_seconds + ongoing, 3),
            "max_pending": self.max_pending,
            "resume_at": self.resume_at,
        }
