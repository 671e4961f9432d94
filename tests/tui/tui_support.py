"""Helpers the TUI tests import (a conftest is not importable by name when several exist)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def wait_for(
    pilot: Pilot[Any],
    predicate: Callable[[], object],
    timeout: float = 10.0,
    what: str = "",
    detail: Callable[[], str] | None = None,
) -> None:
    """Let the app run until ``predicate()`` holds (workers answer asynchronously).
    ``detail`` adds what the failure message should show (the screen, say)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            pass
        if loop.time() > deadline:
            shown = f":\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out waiting for {what or predicate}{shown}")
        await pilot.pause(0.02)
