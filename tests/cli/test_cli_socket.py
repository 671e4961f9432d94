"""The real path: ``mds`` as a process, over a real Unix socket served by uvicorn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fake_mdsd import FULL, FakeDaemon

from mds.cli import main


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A uvicorn-served fake daemon on a short socket path (sun_path is ~100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="mds-") as folder:
        path = Path(folder) / "mdsd.sock"
        server = uvicorn.Server(
            uvicorn.Config(FakeDaemon(FULL).app, uds=str(path), log_level="error", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield path
        server.should_exit = True
        thread.join(5)


def _mds(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mds", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=30,
    )


def test_mds_process_over_a_unix_socket(socket_path: Path) -> None:
    result = _mds("status", "--json", env={"MDS_SOCKET": str(socket_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == FULL["/v1/status"]


def test_not_found_over_a_unix_socket(
    socket_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--socket", str(socket_path), "show", "aip://model/registry/missing"]) == 1
    assert capsys.readouterr() == ("", "mds: no entity aip://model/registry/missing\n")


def test_cli_loads_no_store_daemon_or_tui() -> None:
    code = "import json, sys, mds.cli; print(json.dumps(sorted(sys.modules)))"
    loaded = {
        name.split(".")[0]
        for name in json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        )
    }
    assert not loaded & {"store", "rocksdict", "tui", "textual", "starlette", "uvicorn"}
