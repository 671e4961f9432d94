"""Test doubles for the bus tests: an intake that judges like the real one, in memory."""

from __future__ import annotations

import asyncio

from mdsd.intake.doors import IntakeResult
from mdsd.intake.events import Accepted, parse_events


class MemoryIntake:
    """``Intake.submit`` with the real validation, keeping events and dead letters in lists.

    ``delay`` makes every write slow; ``failures`` makes the next writes raise.
    """

    def __init__(self, delay: float = 0.0, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.calls: list[tuple[bytes, str]] = []
        self.events: list[str] = []
        self.dead: list[tuple[str, str, str]] = []  # (origin, reason, raw)

    async def submit(self, raw: bytes, origin: str) -> IntakeResult:
        self.calls.append((raw, origin))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        result = IntakeResult()
        for item in parse_events(raw, origin):
            if isinstance(item, Accepted):
                result.accepted += 1
                self.events.append(item.raw)
            else:
                result.rejected.append({"index": item.index, "reason": item.reason})
                self.dead.append((origin, item.reason, item.raw))
        return result
