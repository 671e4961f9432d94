"""CPU time of other processes, for benchmarks that run the daemon and the simulator apart."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process, or of one of its threads (Linux ``/proc``)."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
