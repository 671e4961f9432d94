"""The GraphQL benchmark runs end to end, over its Unix socket too: its stand-in daemon
once drifted from ``Services`` (no ``unit_state``), and the socket half failed unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "graphql_bench.py"


@pytest.mark.slow
def test_benchmark_runs_in_process_and_over_the_socket() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--size", "2000", "--sample", "20", "--churn", "20"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {line.split(" p50 ")[0].strip() for line in done.stdout.splitlines() if " p50 " in line}
    asked = {f"{via}{what} {when}" for via in ("", "socket ") for what in ("graphql", "rest x3")
             for when in ("now", "as-of")}  # fmt: skip
    assert asked <= rows, done.stdout
