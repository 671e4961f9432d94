"""The Kafka benchmark runs end to end on a small backlog and both consumers drain it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kafka_bench.py"


@pytest.mark.slow
def test_small_backlog_is_durably_queued_and_compared_with_a_bare_consumer(
    tmp_path: Path,
) -> None:
    pytest.importorskip("aiokafka", reason="the kafka extra is not installed")
    out = tmp_path / "kafka.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "5000", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 and "no broker" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["mds"]["durably_queued"] == 5000
    assert report["mds"]["committed_offsets"] == 5000
    assert report["peer"]["events"] == 5000 and report["peer_over_mds"] > 0
    assert "peer/mds" in done.stdout
