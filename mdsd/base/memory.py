"""Handing memory back to the system once a spike is over.

A burst of big reads or a large ingest makes the daemon allocate hundreds of MB that it
frees again when the burst ends; but glibc's malloc keeps freed heap (in every thread's
arena: reads run on threads) for reuse, so the resident set stays at the spike's size for
good. ``malloc_trim(0)`` returns those free pages. It walks the heap with its arenas
locked, so it runs only once the process has been quiet for a while, never on a hot path,
and only when the resident set grew since the last trim.

What it cannot return: Python's own allocator keeps each 1 MiB arena while any object in
it lives, and the objects that outlive a spike (cache entries, ids) are spread over many.

During a big load the daemon is never quiet, and what grew was mostly malloc arenas: glibc
gives each thread that meets contention an arena of its own, up to eight per core, and each
keeps the memory it freed for its own reuse. The daemon's threads (reads, the search
commits, RocksDB's, SQLite's) made a dozen of them, 15-35 MB each midway through a 100k
load (``bench/million_bench.py``); capped, the daemon peaked at 396 MB instead of 589 MB
loading 20k entities. ``limit_arenas`` caps them at ``MALLOC_ARENAS`` for the daemon and its
worker processes (glibc's ``M_ARENA_MAX``, what ``MALLOC_ARENA_MAX`` sets).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

#: the process counts as quiet while it uses less than this share of one core
QUIET_CPU_SHARE = 0.05
#: growth of the resident set since the last trim that makes another worth it
TRIM_GROWTH_BYTES = 32 << 20
#: how often the resident set and CPU time are sampled, at most
SAMPLE_SECONDS = 1.0


def rss_bytes(status: Path = Path("/proc/self/status")) -> int:
    """The resident set of this process (``VmRSS``); 0 where /proc does not say."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


#: malloc arenas a process of the daemon uses at most: threads share them, so freed memory
#: is reused across threads instead of held per thread
MALLOC_ARENAS = 2
#: ``mallopt``'s parameter number for the most arenas (glibc's malloc.h)
_M_ARENA_MAX = -8


def limit_arenas(most: int = MALLOC_ARENAS) -> bool:
    """Cap the malloc arenas of this process at ``most``, before its threads start (an arena
    made already stays). False where the C library cannot (not glibc): nothing changes then.
    ``MALLOC_ARENA_MAX`` in the environment, an operator's own choice, is left to rule."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    function = None if name is None else getattr(ctypes.CDLL(name), "mallopt", None)
    if function is None:
        return False
    function.argtypes = [ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return bool(function(_M_ARENA_MAX, most))


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on a libc without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def trim() -> bool:
    """Return the free pages of every malloc arena to the system; False where the C
    library cannot (nothing is done then)."""
    function = _malloc_trim()
    if function is None:
        return False
    function(0)
    return True


@dataclass
class Trimmer:
    """Decides, from samples of CPU time and resident set, when a trim is due: the process
    has been quiet for ``idle_seconds`` and has grown by ``growth`` since the last one."""

    idle_seconds: float
    growth: int = TRIM_GROWTH_BYTES
    baseline: int = 0
    quiet_since: float | None = None
    _last: tuple[float, float] | None = None

    def due(self, now: float, cpu_seconds: float, rss: int) -> bool:
        """Take one sample (wall clock, process CPU time, resident set); True when a trim
        is due now."""
        if self._last is not None:
            wall, cpu = now - self._last[0], cpu_seconds - self._last[1]
            busy = wall <= 0 or cpu > QUIET_CPU_SHARE * wall
            if busy:
                self.quiet_since = None
            elif self.quiet_since is None:
                self.quiet_since = self._last[0]
        self._last = (now, cpu_seconds)
        quiet = self.quiet_since is not None and now - self.quiet_since >= self.idle_seconds
        return quiet and rss > self.baseline + self.growth

    def trimmed(self, rss: int) -> None:
        """After a trim: growth is counted from ``rss`` on."""
        self.baseline = rss


async def trim_when_idle(idle_seconds: float) -> None:
    """Until cancelled: trim the heap each time the daemon goes quiet after growing.

    First a full garbage collection, on the loop (finalizers expect it; a spike's reads
    leave tens of thousands of objects in cycles that an idle process would otherwise never
    collect); then the trim, on a thread (it walks the whole heap). What they did is logged
    with the resident set before and after."""
    if _malloc_trim() is None:
        log.info("memory: this C library cannot hand freed heap back; not trimming")
        await asyncio.Future()  # until cancelled: the supervisor restarts a job that returns
    trimmer = Trimmer(idle_seconds, baseline=rss_bytes())
    interval = min(SAMPLE_SECONDS, idle_seconds / 2)
    while True:
        await asyncio.sleep(interval)
        if not trimmer.due(time.monotonic(), time.process_time(), rss_bytes()):
            continue
        before = rss_bytes()
        unreachable = gc.collect()
        await asyncio.to_thread(trim)
        after = rss_bytes()
        trimmer.trimmed(after)
        log.info(
            "memory: idle, %d unreachable object(s) collected, heap trimmed: RSS %d MB -> %d MB",
            unreachable,
            before >> 20,
            after >> 20,
        )
