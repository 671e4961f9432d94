"""Long loops on the event loop, taken in steps.

The daemon's one event loop writes facts, builds search documents, runs enrichment and
answers every query. A loop over a backfill's worth of entities (hundreds to thousands,
each a few reads) held it for 100-190 ms, and a search typed meanwhile waited that long.
``paced`` hands the loop back every ``step`` items, so a query waits one step at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")

#: items between two yields for loops of point reads (a step is then about 5-10 ms)
STEP = 64


async def paced(items: Iterable[T], step: int = STEP) -> AsyncIterator[T]:
    """``items`` in order, yielding to the event loop after every ``step`` of them."""
    for count, item in enumerate(items, start=1):
        yield item
        if count % step == 0:
            await asyncio.sleep(0)
