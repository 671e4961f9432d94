"""A real full disk under load, through the socket: the daemon's data dir is a small tmpfs,
filled to its last byte while a client keeps sending events, then freed.

Nothing acknowledged is lost (none dead-lettered for the fault either, and a restart finds
it all), acknowledgements meanwhile are 507 with the reason, never a 200 for what could not
be made durable, and processing resumes within 5 s of space returning with no manual step.
A daemon started while the disk is full waits for room, and starts by itself.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.reliability.diskfull import FILLER, fill, mount_refusal, run_episode, tmpfs

pytestmark = pytest.mark.slow


@pytest.fixture
def mountable(tmp_path: Path) -> None:
    refusal = mount_refusal(tmp_path)
    if refusal is not None:
        pytest.skip(f"a disk-full test needs a tmpfs of its own (run as root): {refusal}")


@pytest.mark.usefixtures("mountable")
def test_a_full_disk_under_load_loses_nothing_and_resumes_by_itself(tmp_path: Path) -> None:
    report = run_episode(tmp_path, fault_seconds=3.0)
    assert report.problems() == [], report.to_json()
    assert set(report.refused) == {507}, "a full disk is 507, with the reason"
    assert all("no space left" in reason for reason in report.refusal_reasons)
    assert report.storage_during["kind"] == "no_space"
    assert report.task_restarts == 0, "no task died of the fault"


@pytest.mark.usefixtures("mountable")
def test_a_daemon_started_on_a_full_disk_waits_and_starts_by_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with (
        tmpfs(data, "32m"),
        SimulatorThread(World.generate(size=150, seed=3)) as simulator,
    ):
        daemon = DaemonProcess(tmp_path, simulator.base_url).start()
        try:
            events = "\n".join(json.dumps(e) for e in simulator.world.initial_events())
            daemon.call("ingest", events.encode())
            assert daemon.call("wait_idle", 120.0)["idle"]
            before = daemon.call("status")
            daemon.stop()
            fill(data)
            threading.Timer(3.0, (data / FILLER).unlink).start()
            daemon.start(timeout=60)  # answers once it could open its stores
            assert daemon.call("wait_idle", 120.0)["idle"]
            after = daemon.call("status")
            assert (after["resolved"], after["last_tx"]) == (before["resolved"], before["last_tx"])
            assert "waiting for it to clear" in daemon.log()
        finally:
            daemon.stop()
