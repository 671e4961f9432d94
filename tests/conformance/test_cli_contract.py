"""``mds`` as scripts use it (contract 2.2): ``wait --idle --timeout S`` takes seconds as
scripts write them (fractions, or a unit as kubectl takes them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mds.cli import EXIT_TIMEOUT
from tests.conformance.harness import Harness, running
from tests.conformance.org import organisation
from tests.conformance.platform import Fault


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running(tmp_path_factory.mktemp("cli"), organisation()) as harness:
        yield harness


@pytest.mark.slow
@pytest.mark.parametrize("timeout", ["2.5", "30s", "1m"])
def test_wait_takes_seconds_as_a_script_writes_them(h: Harness, timeout: str) -> None:
    done = h.mds("wait", "--idle", "--timeout", timeout)
    assert done.code == 0, done
    assert done.json["idle"] is True


@pytest.mark.slow
def test_wait_with_a_fractional_timeout_exits_124_when_busy(h: Harness) -> None:
    h.platform.fail("/api/v1/users/carol", Fault("429-seconds", 4))
    h.ingest([{"event_type": "user_updated", "user_id": "carol"}])
    busy = h.mds("wait", "--idle", "--timeout", "0.5")
    assert busy.code == EXIT_TIMEOUT, busy
    assert busy.json["idle"] is False and busy.json["pending"] >= 1
    assert "still busy" in busy.err
    h.wait_idle()


@pytest.mark.slow
@pytest.mark.parametrize("timeout", ["-1", "soon", "5x"])
def test_wait_with_a_timeout_that_is_no_duration_is_bad_usage(h: Harness, timeout: str) -> None:
    bad = h.mds("wait", "--idle", "--timeout", timeout)
    assert bad.code == 2, bad
    assert bad.out == "" and "--timeout" in bad.err
