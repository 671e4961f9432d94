"""The real ``mdsd`` serving a team: TLS on a TCP port, tokens made and revoked while it runs,
keep-alive, the change stream over TLS, and no token in what it logs or shows."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from mds.testing import DaemonProcess
from mdsd.api.tokens import TokenFolder
from simulator.runner import SimulatorThread
from simulator.world import World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with SimulatorThread(World.generate(size=60, seed=5)) as simulator:
        process = DaemonProcess(tmp_path_factory.mktemp("team"), simulator.base_url, tls=True)
        process.world = simulator.world  # type: ignore[attr-defined]
        with process:
            yield process


def remote(daemon: DaemonProcess, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    trusted = ssl.create_default_context(cafile=str(daemon.cacert))
    return httpx.Client(base_url=daemon.server_url, verify=trusted, headers=headers, timeout=30)


def events(daemon: DaemonProcess, count: int) -> bytes:
    chosen = list(daemon.world.initial_events())[:count]  # type: ignore[attr-defined]
    return "".join(json.dumps(e) + "\n" for e in chosen).encode()


def test_tls_is_served_with_the_certificate_of_its_ca(team: DaemonProcess) -> None:
    token = team.token("tls-reader", "read")
    with remote(team, token) as http:
        assert http.get("/v1/status").status_code == 200
    with (
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        httpx.Client(base_url=team.server_url) as untrusting,
    ):
        untrusting.get("/v1/status", headers={"Authorization": f"Bearer {token}"})
    plain = team.server_url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError), httpx.Client(base_url=plain, timeout=5) as http:
        http.get("/v1/status", headers={"Authorization": f"Bearer {token}"})


def test_one_connection_carries_many_requests(team: DaemonProcess) -> None:
    token = team.token("keepalive", "read")
    where = urlsplit(team.server_url)
    context = ssl.create_default_context(cafile=str(team.cacert))
    with (
        socket.create_connection((where.hostname, where.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=where.hostname) as tls,
    ):
        reader = tls.makefile("rb")
        for _ in range(3):
            tls.sendall(
                f"GET /v1/status HTTP/1.1\r\nHost: mds\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            )
            assert reader.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                assert not (name.lower() == "connection" and "close" in value)
            assert json.loads(reader.read(length))["remote"]["tls"] is True


def test_the_change_stream_over_tls_and_writes_by_scope(team: DaemonProcess) -> None:
    reader, writer = team.token("watcher", "read"), team.token("pipeline", "write")
    with remote(team, reader) as http:
        assert http.post("/v1/events", content=events(team, 1)).status_code == 403
        assert http.post("/v1/reconcile").status_code == 403
    seen: list[str] = []
    connected = threading.Event()

    def follow() -> None:
        with remote(team, reader) as http, http.stream("GET", "/v1/changes") as stream:
            for line in stream.iter_lines():
                connected.set()
                if line.startswith("event: tx"):
                    seen.append(line)
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert connected.wait(30)
    with remote(team, writer) as http:
        answer = http.post("/v1/events", params={"name": "x.jsonl"}, content=events(team, 20))
        assert answer.status_code == 200 and answer.json()["accepted"] > 0, answer.text
        assert http.post("/v1/reconcile").status_code == 403
    thread.join(60)
    assert seen == ["event: tx"]


def test_tokens_count_at_once_while_it_runs(team: DaemonProcess) -> None:
    with remote(team, "mds_" + "z" * 43) as http:
        assert http.get("/v1/status").status_code == 401
    token = team.token("late", "admin")
    with remote(team, token) as http:
        assert http.post("/v1/reconcile").status_code == 200
        team.revoke("late")
        refused = http.get("/v1/status")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")


def test_no_token_or_hash_in_the_log_or_status(team: DaemonProcess) -> None:
    token = team.token("secretive", "read")
    with remote(team, token) as http:
        status = http.get("/v1/status").text
    with remote(team, token + "x") as http:
        http.get("/v1/status")
    remote_status = json.loads(status)["remote"]
    assert remote_status["tokens"] >= 1 and remote_status["failed_attempts"] >= 1
    shown = status + json.dumps(team._status()) + team.log()
    for stored in TokenFolder(team.data_dir).tokens():
        assert stored.digest not in shown
    assert token not in shown and token[4:24] not in shown
    assert "mds_" not in team.log()


def test_plain_http_off_loopback_keeps_it_from_starting(tmp_path: Path) -> None:
    config = tmp_path / "open.toml"
    config.write_text(f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n[api]\nlisten = "0.0.0.0:0"\n')
    done = subprocess.run(
        [sys.executable, "-m", "mdsd", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "is not a loopback address, so it needs TLS" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made
