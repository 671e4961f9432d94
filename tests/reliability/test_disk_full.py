"""A real full disk under load, through the socket: the daemon's data dir is a small tmpfs,
filled to its last byte while a client keeps sending events, then freed.

Nothing acknowledged is lost (none dead-lettered for the fault either, and a restart finds
it all), acknowledgements meanwhile are 507 with the reason, never a 200 for what could not
be made durable, and processing resumes within 5 s of space returning with no manual step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.diskfull import mount_refusal, run_episode

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
