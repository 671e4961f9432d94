"""The time-axes benchmark runs end to end on a small graph, and its three views answer
differently where they should: the past has fewer nodes than the present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "time_bench.py"


@pytest.mark.slow
def test_time_benchmark_runs_and_its_views_differ(tmp_path: Path) -> None:
    out = tmp_path / "time.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "valid traverse" in done.stdout
    result = json.loads(out.read_text())
    reads = result["reads"]
    # the same starts reach fewer nodes three quarters into the history than today
    assert reads["valid"]["traverse"]["checksum"] < reads["current"]["traverse"]["checksum"]
    assert set(result["ratios"]) >= {"import", "valid traverse", "combined pull"}
