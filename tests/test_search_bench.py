"""The search benchmark runs end to end on a small organisation, and its ``job`` peer is a
real competitor: it finds the exact name first and most typos, as ours must."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "search_bench.py"


def rates(stdout: str, label: str) -> dict[str, float]:
    """A rates line of the report, by contender (ours, job, raw, raw~)."""
    line = next(line for line in stdout.splitlines() if line.startswith(label))
    values = [float(v) for v in re.findall(r"([\d.]+)%", line)]
    return dict(zip(("ours", "job", "raw", "raw~"), values, strict=True))


@pytest.mark.slow
def test_benchmark_runs_and_the_job_peer_does_the_job(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--size", "3000", "--queries", "60", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    classes = {"prefix", "word", "words", "exact", "typo", "typo-prefix"}
    rows = {line.split()[0] for line in done.stdout.splitlines() if " | " in line}
    assert classes <= rows
    first = rates(done.stdout, "exact name first")
    assert first["ours"] == 100.0
    assert first["job"] >= 95.0
    recall = rates(done.stdout, "typo recall")
    assert recall["ours"] >= 95.0
    assert recall["job"] >= 80.0
