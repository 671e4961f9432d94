"""The client talks only to a daemon of its own user (or root), and checks before sending.

With the socket folder replaced by another user's fake daemon, ``mds ingest`` printed
"accepted 1" and exited 0 while the real daemon never got the event. Now the socket's owner
and the answering process's uid (``SO_PEERCRED``) are checked before a byte is sent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mds import peercheck
from mds.cli.app import main as mds
from mds.client import Client, UntrustedDaemon
from mds.socket_client import SocketClient
from mds.target import Target
from tests.reliability.conftest import STRANGER, as_root

ACCEPTED = b'{"accepted": 1, "duplicates": 0, "rejected": []}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(ACCEPTED),
    ACCEPTED,
)


class FakeDaemon:
    """A socket that answers every request "accepted", recording what it was sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(ANSWER)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    daemon = FakeDaemon(tmp_path / "mdsd.sock")
    yield daemon
    daemon.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root trusts root's socket: see the tests below")
async def test_a_socket_that_looks_like_another_users_is_refused_before_sending(
    fake: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without root: the client is told it is someone else."""
    monkeypatch.setattr(peercheck.os, "getuid", lambda: STRANGER)
    async with Client(fake.path) as client:
        with pytest.raises(UntrustedDaemon, match="not to you"):
            await client.ingest(b'{"event_type": "user_updated", "user_id": "a"}')
    assert fake.received == b""


@as_root
async def test_a_socket_file_of_another_user_is_refused(fake: FakeDaemon) -> None:
    os.chown(fake.path, STRANGER, STRANGER)
    async with Client(fake.path) as client:
        with pytest.raises(UntrustedDaemon, match=f"belongs to uid {STRANGER}, not to you"):
            await client.status()
    assert fake.received == b""


@as_root
def test_the_cli_socket_client_refuses_a_socket_file_of_another_user(fake: FakeDaemon) -> None:
    """The CLI's own client on the socket (``mds show``, ``status``) checks as the async one."""
    os.chown(fake.path, STRANGER, STRANGER)
    with pytest.raises(UntrustedDaemon, match=f"belongs to uid {STRANGER}, not to you"):
        SocketClient(Target(socket=fake.path)).status()
    assert fake.received == b""


IMPOSTOR = textwrap.dedent(
    """
    import os, socket, sys
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sys.argv[1])  # as root: the file is root's, so only the peer check can tell
    os.setgid({uid}); os.setuid({uid})
    listener.listen(8)  # the peer credentials are taken here
    print("ready", flush=True)
    listener.settimeout(2)
    received = b""
    try:
        while True:
            conn, _ = listener.accept()
            conn.settimeout(1)
            try:
                received += conn.recv(65536)
                conn.sendall({answer!r})
            except OSError:
                pass
            conn.close()
    except OSError:
        pass
    print(len(received), flush=True)
    """
)


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    path = tmp_path / "mdsd.sock"
    process = subprocess.Popen(
        [sys.executable, "-c", IMPOSTOR.format(uid=STRANGER, answer=ANSWER), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    yield path, process
    process.kill()
    process.wait()


@as_root
async def test_a_process_of_another_user_on_a_root_owned_socket_is_refused(
    impostor: tuple[Path, subprocess.Popen[str]],
) -> None:
    path, process = impostor
    async with Client(path) as client:
        with pytest.raises(UntrustedDaemon, match=f"runs as uid {STRANGER}, not as you"):
            await client.ingest(b'{"event_type": "user_updated", "user_id": "a"}')
    out, _ = process.communicate(timeout=30)
    assert out.strip() == "0"  # not a byte reached it


@as_root
def test_mds_ingest_to_a_fake_daemon_fails_and_says_why(
    impostor: tuple[Path, subprocess.Popen[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, process = impostor
    events = tmp_path / "e.json"
    events.write_text(json.dumps({"event_type": "user_updated", "user_id": "a"}))
    code = mds(["ingest", str(events), "--socket", str(path)])
    captured = capsys.readouterr()
    assert code != 0
    assert "accepted" not in captured.out
    assert f"runs as uid {STRANGER}" in captured.err and "nothing was sent" in captured.err
    out, _ = process.communicate(timeout=30)
    assert out.strip() == "0"


@as_root
def test_mds_status_to_a_fake_daemon_fails_and_says_why(
    impostor: tuple[Path, subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """``mds status`` asks through the socket client: refused before a byte is sent."""
    path, process = impostor
    code = mds(["status", "--socket", str(path)])
    captured = capsys.readouterr()
    assert code != 0
    assert f"runs as uid {STRANGER}" in captured.err and "nothing was sent" in captured.err
    out, _ = process.communicate(timeout=30)
    assert out.strip() == "0"
