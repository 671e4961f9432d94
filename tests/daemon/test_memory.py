"""Handing memory back after a spike: when the trim is due, and that it returns memory."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from mdsd.base import memory
from mdsd.base.memory import Trimmer, rss_bytes, trim, trim_when_idle

MB = 1 << 20
glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def test_rss_is_read_from_proc_status(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tmdsd\nVmRSS:\t  2048 kB\nThreads:\t3\n")
    assert rss_bytes(status) == 2 * MB
    assert rss_bytes(tmp_path / "absent") == 0
    assert rss_bytes() > 0


def test_a_trim_waits_for_quiet_and_growth() -> None:
    trimmer = Trimmer(idle_seconds=5.0, growth=10 * MB, baseline=100 * MB)
    assert not trimmer.due(0.0, 0.0, 300 * MB)  # the first sample says nothing yet
    assert not trimmer.due(1.0, 0.9, 300 * MB)  # busy: 90% of a core
    assert not trimmer.due(4.0, 0.95, 300 * MB)  # quiet since 1.0, not for 5 s yet
    assert trimmer.due(6.0, 1.0, 300 * MB)  # quiet for 5 s and grown by 200 MB
    trimmer.trimmed(150 * MB)
    assert not trimmer.due(7.0, 1.0, 155 * MB)  # grown too little since the trim
    assert not trimmer.due(8.0, 2.0, 400 * MB)  # busy again: the quiet starts over
    assert not trimmer.due(12.0, 2.0, 400 * MB)
    assert trimmer.due(13.0, 2.0, 400 * MB)


@glibc
def test_trimming_returns_freed_heap() -> None:
    """Every 16th block kept alive pins the heap's top: without a trim the freed blocks
    between stay resident."""
    blocks = [bytearray(4096) for _ in range(25_000)]  # ~100 MB, from the malloc heap
    kept = blocks[::16]
    del blocks
    before = rss_bytes()
    assert trim()
    assert before - rss_bytes() > 50 * MB
    assert len(kept) == 1563


async def test_the_job_trims_once_the_process_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = iter([100 * MB] + [400 * MB] * 1000)
    monkeypatch.setattr(memory, "rss_bytes", lambda: next(sizes))
    trims: list[bool] = []

    def trim() -> bool:
        trims.append(True)
        return True

    monkeypatch.setattr(memory, "trim", trim)
    job = asyncio.create_task(trim_when_idle(0.1))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if trims:
            break
    job.cancel()
    assert trims == [True]  # once: after it, growth counts from what the trim left


_ARENAS = """
import ctypes, sys, threading
from mdsd.base.memory import limit_arenas
if sys.argv[1] == "limit":
    assert limit_arenas(2)
together = threading.Barrier(8)
def work():
    held = bytearray(1 << 16)  # from malloc, in this thread's arena
    together.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


@glibc
@pytest.mark.parametrize(("mode", "most"), [("limit", 2), ("default", None)])
def test_arenas_are_capped_for_threads(mode: str, most: int | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS, mode], capture_output=True, text=True, env=env, check=True
    )
    arenas = sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))
    if most is None:
        assert arenas > 2  # eight threads at once get arenas of their own
    else:
        assert 1 <= arenas <= most


def test_an_operators_arena_setting_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not memory.limit_arenas()
