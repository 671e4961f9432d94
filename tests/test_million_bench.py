"""bench/million_bench.py: its memory sampling of a process tree, its settings, and (slow)
one small load end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from million_bench import PeakRss, descendants, memory_bytes, parse_setting

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_a_setting_is_table_key_and_a_json_value() -> None:
    assert parse_setting("daemon.cache_entities=20000") == ("daemon", "cache_entities", 20000)
    assert parse_setting("daemon.log_level=debug") == ("daemon", "log_level", "debug")
    for broken in ("cache_entities=1", "daemon.cache_entities", "daemon.x="):
        with pytest.raises(Exception, match=r"TABLE\.KEY=VALUE"):
            parse_setting(broken)


def test_the_peak_covers_the_children_and_their_memory() -> None:
    # a child that holds 64 MB: the tree's peak includes it, the process's own does not
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; b = bytearray(64 << 20); time.sleep(30)"]
    )
    try:
        deadline = time.monotonic() + 20
        while memory_bytes(child.pid)[0] < 64 << 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in descendants(os.getpid())
        with PeakRss(os.getpid(), every=0.05) as peak:
            time.sleep(0.2)
        own_rss, _ = memory_bytes(os.getpid())
        assert peak.samples >= 2
        assert peak.daemon >= own_rss // 2
        assert peak.total >= peak.daemon + (64 << 20)
        assert 64 << 20 <= peak.total_pss <= peak.total
    finally:
        child.kill()
        child.wait()
    assert memory_bytes(child.pid) == (0, 0)


@pytest.mark.slow
def test_a_small_load_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "million.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "million_bench.py"), "--size", "300", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["idle"] is True
    assert report["entities"] >= 300
    assert report["events"] > 0
    assert report["peak_rss_with_workers_mb"] > report["peak_rss_daemon_mb"] > 0
    assert report["disk_mb"] > 0
