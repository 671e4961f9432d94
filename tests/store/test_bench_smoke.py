"""The store benchmark runs end to end on a small graph and every contender agrees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "store_bench.py"


@pytest.mark.slow
def test_quick_benchmark_runs_and_answers_agree(tmp_path: Path) -> None:
    out = tmp_path / "store.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    failed = {peer: r["error"] for peer, r in report["results"].items() if "error" in r}
    assert not failed
    assert report["checks"]["answers_differ_from_floor"] == []
    store = report["results"]["store"]
    assert set(store["ops"]) >= {"pull", "pull_asof", "refs_in", "traverse", "traverse_asof"}
    assert store["open_us"] > 0
    assert "6-hop downstream" in done.stdout
