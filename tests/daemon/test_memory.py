"""Handing memory back after a spike: when the trim is due, and that it returns memory."""

from __future__ import annotations

import asyncio
import platform
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
