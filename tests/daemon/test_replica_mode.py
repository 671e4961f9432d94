"""``mdsd replica`` without a broker to follow: it still serves reads, refuses every write
naming the primary, and says in its status why it is not following. Which config runs as
which is checked before anything opens. (Following a real topic: tests/buses/test_replica.py.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mds.client import ApiError
from mds.testing import DaemonProcess
from mdsd.config import ConfigError, parse_config

pytest.importorskip("aiokafka", reason="the kafka extra is not installed")

PRIMARY = "https://mds-primary.example:8443"
#: a port nothing listens on: the follower keeps failing to reach its broker
NOWHERE = {"bootstrap_servers": "127.0.0.1:9", "topic": "mds.transactions", "primary": PRIMARY}


def test_a_replica_refuses_writes_naming_the_primary_and_says_why_it_lags(
    tmp_path: Path,
) -> None:
    with DaemonProcess(
        tmp_path, "http://127.0.0.1:9", command=["replica"], extra={"replica": NOWHERE}
    ) as replica:
        status = replica.call("status")
        assert status["role"] == "replica" and status["replica"]["primary"] == PRIMARY
        assert status["replica"]["applied_tx"] == 0
        deadline = time.monotonic() + 30
        while not replica.call("status")["replica"]["last_error"]:
            assert time.monotonic() < deadline, "the broker failure never reached the status"
            time.sleep(0.2)
        assert replica.call("search", "ranking")["results"] == []  # reads answer
        for method, args in (
            ("ingest", (b'{"event_type": "model_updated", "model_id": "m"}',)),
            ("dead_letters", ()),
            ("redrive", ()),
            ("reconcile", ()),
        ):
            with pytest.raises(ApiError) as refused:
                replica.call(method, *args)
            assert refused.value.status == 409, method
            assert refused.value.code == "read_only_replica"
            assert PRIMARY in refused.value.message
        assert replica.stop() == 0


def _mdsd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdsd", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_replica_config_runs_only_as_a_replica_and_a_replica_needs_one(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    replica = tmp_path / "replica.toml"
    replica.write_text(
        f'[daemon]\ndata_dir = "{data}"\n\n[replica]\nbootstrap_servers = "127.0.0.1:9"\n'
    )
    ran = _mdsd(replica)
    assert ran.returncode == 2 and "mdsd replica --config" in ran.stderr
    primary = tmp_path / "primary.toml"
    primary.write_text(f'[daemon]\ndata_dir = "{data}"\n')
    ran = _mdsd(primary, "replica")
    assert ran.returncode == 2 and "needs a [replica] table" in ran.stderr
    assert not (data / "facts").exists(), "nothing opened"


def test_replication_and_replica_are_not_one_config() -> None:
    with pytest.raises(ConfigError, match=r"\[replication\] and \[replica\]"):
        parse_config("[replication]\n\n[replica]\n")
