"""Where the daemon's event loop spends its time, by stage, from py-spy samples.

The loop is the one serial stage of hydration (it writes facts, builds search documents,
runs enrichment and answers queries), so its split is the share of time per stage that
decides throughput. ``LoopSampler`` samples the daemon's main thread with py-spy (idle
samples included) while a run goes on; ``shares`` sorts each sample into the first stage
whose function is on its stack.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

#: (stage, function names that mark it), first match wins: a write inside an enrichment
#: pass is enrichment's
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("enrichment", ("Enrichment.",)),
    ("search indexing", ("Indexer.",)),
    ("write (transaction)", ("Writer.",)),
    ("intake (validate, journal)", ("Intake.", "Journal.")),
    ("fetch handoff (pipes)", ("_Channel.", "FrameWriter.", "ProcessFetcher.", "read_frame")),
    ("hydrator bookkeeping", ("Hydrator.",)),
    ("API (status calls)", ("RequestResponseCycle.", "HttpToolsProtocol.")),
    ("idle (waiting for I/O)", ("EpollSelector.select",)),
)


def stage_of(stack: str) -> str:
    for stage, marks in STAGES:
        if any(mark in stack for mark in marks):
            return stage
    return "other (event loop, callbacks)"


def shares(raw: str) -> dict[str, float]:
    """Share of the main thread's samples per stage, from py-spy's raw (collapsed) output."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if "Thread._bootstrap" in stack.split(";", 1)[0] or not count.isdigit():
            continue  # another thread: the loop is the main one
        counts[stage_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {stage: round(n / total, 3) for stage, n in counts.most_common()}


class LoopSampler:
    """py-spy on one process for as long as the ``with`` block runs."""

    def __init__(self, pid: int, rate: int = 100) -> None:
        self.pid, self.rate = pid, rate
        self.result: dict[str, float] = {}
        self.error = ""
        self._out = Path(tempfile.mkdtemp(prefix="mds-stages-")) / "samples.txt"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LoopSampler:
        # the venv's own, when the bench runs as .venv/bin/python without the venv on PATH
        py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
            "py-spy"
        )
        if py_spy is None:
            self.error = "py-spy is not installed (pip install -e '.[bench]')"
            return self
        command = [py_spy, "record", "-p", str(self.pid), "-r", str(self.rate), "--idle"]
        command += ["-f", "raw", "-o", str(self._out), "--nonblocking"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
        _, stderr = self._process.communicate(timeout=60)
        if self._out.exists() and self._out.stat().st_size:
            self.result = shares(self._out.read_text())
        else:
            self.error = f"py-spy recorded nothing: {stderr.decode(errors='replace')[-300:]}"
        shutil.rmtree(self._out.parent, ignore_errors=True)
