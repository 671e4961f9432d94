"""The store's benchmarks run end to end on a small graph: every contender agrees, and the
time-axes views answer differently where they should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def quick(bench: str, out: Path) -> tuple[str, dict[str, Any]]:
    """Run ``bench --quick``; its stdout and the report it wrote to ``out``."""
    done = subprocess.run(
        [sys.executable, str(BENCH / bench), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(out.read_text())


@pytest.mark.slow
def test_quick_benchmark_runs_and_answers_agree(tmp_path: Path) -> None:
    stdout, report = quick("store_bench.py", tmp_path / "store.json")
    assert set(report["graphs"]) == {"lineage", "random"}
    for graph in report["graphs"].values():
        results = graph["results"]
        failed = {peer: r["error"] for peer, r in results.items() if "error" in r}
        assert not failed
        assert graph["checks"]["answers_differ_from_floor"] == []
        store = results["store"]
        assert set(store["ops"]) >= {
            *("pull", "pull_asof", "refs_in", "traverse", "traverse_asof"),
            *("traverse_first", "pull_first"),
        }
        assert store["open_us"] > 0
        assert {"traverse_first", "traverse_first@plain per hop"} <= set(results["sqlite"]["ops"])
        assert "first-touch walk <= 3x floor" in graph["checks"]["store_targets"]
    assert "6-hop downstream, first touch" in stdout
    assert "random graph" in stdout


@pytest.mark.slow
def test_time_benchmark_runs_and_its_views_differ(tmp_path: Path) -> None:
    stdout, result = quick("time_bench.py", tmp_path / "time.json")
    assert "valid traverse" in stdout
    reads = result["reads"]
    # the same starts reach fewer nodes three quarters into the history than today, and
    # as many after all of it
    assert reads["valid"]["traverse"]["checksum"] < reads["current"]["traverse"]["checksum"]
    assert reads["valid_late"]["traverse"]["checksum"] == reads["current"]["traverse"]["checksum"]
    assert set(result["ratios"]) >= {"import", "valid traverse", "combined pull"}


@pytest.mark.slow
def test_lineage_benchmark_runs_on_a_small_world(tmp_path: Path) -> None:
    out = tmp_path / "lineage.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "lineage_bench.py"),
            "--size",
            "300",
            "--roots",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["lineages"]) == {"Dataset downstream", "Model upstream"} | {
        "ModelInstance upstream",
        "AbTest upstream",
    }
    assert all(row["nodes"]["max"] >= 1 for row in result["lineages"].values())
    assert "first lineage p50" in done.stdout
