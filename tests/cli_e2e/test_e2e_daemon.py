"""The daemon as a process: a private socket, no TCP port, other users refused, and a
clean SIGTERM shutdown that loses nothing."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_world import jsonl
from e2e_support import Mdsd, Platform, ask_as, can_switch_users, tcp_listeners

from simulator import SimulatorThread

pytestmark = pytest.mark.slow

NOBODY = 65534


def test_the_socket_is_0600_in_a_0700_directory(platform: Platform) -> None:
    sock = platform.daemon.socket
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700


def test_the_daemon_listens_on_no_tcp_port(platform: Platform) -> None:
    assert tcp_listeners(os.getpid()), "the check must see the simulator's port in this process"
    assert tcp_listeners(platform.daemon.process.pid) == set()


@pytest.fixture
def other_user() -> int:
    reason = can_switch_users()
    if reason:
        pytest.skip(f"{reason} (the peer check is unit-tested in tests/daemon/test_server.py)")
    return NOBODY


@pytest.fixture
def opened_socket(platform: Platform) -> Iterator[Path]:
    """The socket made reachable by everyone (test only), so the peer check must refuse."""
    sock = platform.daemon.socket
    os.chmod(sock.parent, 0o755)
    os.chmod(sock, 0o666)
    try:
        yield sock
    finally:
        os.chmod(sock, 0o600)
        os.chmod(sock.parent, 0o700)


def test_another_user_cannot_reach_the_socket(platform: Platform, other_user: int) -> None:
    for above in platform.daemon.socket.parent.parents:  # only the daemon's directory is shut
        assert above.stat().st_mode & stat.S_IXOTH, f"{above} is not traversable"
    outcome = ask_as(other_user, platform.daemon.socket)
    assert not outcome.startswith("setuid failed"), outcome
    assert outcome == "denied"  # the 0700 directory stops it before the daemon sees it
    assert platform.daemon.mds("status").code == 0


def test_another_user_is_hung_up_on_by_the_peer_check(
    platform: Platform, other_user: int, opened_socket: Path
) -> None:
    outcome = ask_as(other_user, opened_socket)
    assert outcome == "closed", outcome  # connected, but not a byte of HTTP in answer
    assert ask_as(0, opened_socket).startswith("answered: b'HTTP/1.1 200")
    assert "refused a connection from uid 65534" in platform.daemon.output


def test_sigterm_shuts_down_cleanly_and_loses_nothing(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    daemon = Mdsd.start(tmp_path, simulator.base_url)
    try:
        teams = sorted(simulator.truth()["collections"]["teams"])
        events = [{"event_type": "team_updated", "team_id": t} for t in teams]
        assert daemon.mds("ingest", "-", stdin=jsonl(events)).code == 0
        assert daemon.mds("wait", "--idle", "--timeout", "60").code == 0
        before = daemon.mds("status", "--json").json
    finally:
        code = daemon.terminate()
    assert code == 0, daemon.output
    assert not daemon.socket.exists()
    assert "mdsd stopped cleanly" in daemon.output
    assert "Traceback" not in daemon.output

    again = Mdsd.start(tmp_path, simulator.base_url)
    try:
        after = again.mds("status", "--json").json
        assert (after["entities"], after["last_tx"]) == (before["entities"], before["last_tx"])
        assert after["entities"] >= len(teams)
    finally:
        assert again.terminate() == 0
