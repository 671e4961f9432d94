"""The socket: private by construction, and refusing other users."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from mdsd.base.listeners import allowed_peer, bind_unix_socket, peer_uid


def test_socket_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "run" / "mdsd.sock"
    sock = bind_unix_socket(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        sock.close()


def test_stale_socket_is_replaced_but_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "mdsd.sock"
    first = bind_unix_socket(path)
    with pytest.raises(RuntimeError, match="already serving"):
        bind_unix_socket(path)
    first.close()  # the file stays behind, as after a crash
    second = bind_unix_socket(path)
    second.close()


def test_peer_uid_reads_the_connecting_process(tmp_path: Path) -> None:
    path = tmp_path / "mdsd.sock"
    server = bind_unix_socket(path)
    server.setblocking(True)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(path))
    accepted, _ = server.accept()
    try:
        assert peer_uid(accepted) == os.getuid()
    finally:
        accepted.close()
        client.close()
        server.close()


def test_only_the_same_user_or_root_is_allowed() -> None:
    assert allowed_peer(1000, 1000)
    assert allowed_peer(0, 1000)
    assert not allowed_peer(1001, 1000)
    assert allowed_peer(None, 1000)  # TCP, where each request carries a token
