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


#: imported by nothing ``mds show``, ``search`` and ``status`` do on a socket: the async
#: client's stack (httpx, asyncio) and the package metadata, tens of ms each to import
SLOW_START = ("httpx", "httpcore", "anyio", "asyncio", "importlib.metadata")
ASK_AND_LIST_MODULES = """
import contextlib, io, json, sys
from mds.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ("show", "aip://model/registry/ranking-model"),
        ("search", "ranking", "--type", "model"),
        ("status",),
        ("show", "aip://model/registry/missing"),
    ],
    ids=["show", "search", "status", "not-found"],
)
def test_common_commands_on_the_socket_import_no_async_stack(
    socket_path: Path, argv: tuple[str, ...]
) -> None:
    """The common paths answer through the socket client: what a fresh process loaded
    while it asked and printed the answer holds none of the async client's stack."""
    result = subprocess.run(
        [sys.executable, "-c", ASK_AND_LIST_MODULES, "--socket", str(socket_path), *argv],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    ran = json.loads(result.stdout)
    assert ran["code"] == (1 if argv[-1].endswith("missing") else 0), result.stderr
    assert ran["out"] or argv[-1].endswith("missing")
    slow = [m for m in ran["modules"] if m.split(".")[0] in SLOW_START or m in SLOW_START]
    assert slow == []


def test_watch_on_the_socket_takes_the_async_client(socket_path: Path) -> None:
    """A stream is not one question: ``watch`` goes through the async client on the same
    socket, and still prints what the daemon sends."""
    result = _mds("watch", "--count", "1", "-o", "jsonl", env={"MDS_SOCKET": str(socket_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["tx"]


#: one of each kind of question: reads with parameters, a POST with a JSON body, a 408 that
#: is an answer (wait), the daemon's 400 and 500, and an ingest (the async client's, parts)
SAME_EITHER_WAY = [
    ("show", "aip://model/registry/ranking-model", "--as-of", "2025-01-01", "-o", "json"),
    ("search", "watch time", "owner:alice", "--limit", "5"),
    ("lineage", "aip://dataset/datasets/playback-events", "--types", "reads,derived_from"),
    ("history", "--limit", "2", "-o", "jsonl"),
    ("redrive", "3", "4"),
    ("graphql", "{ status }"),
    ("wait", "--idle", "--timeout", "1"),
    ("status", "-o", "yaml"),
    ("show", "aip://model/registry/bad"),
    ("show", "aip://model/registry/boom"),
]


@pytest.mark.parametrize("argv", SAME_EITHER_WAY, ids=lambda argv: " ".join(argv[:2]))
def test_the_socket_client_answers_as_the_async_client(
    socket_path: Path, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's socket client and the async client (on an in-process app) send the same
    requests and print the same answers, errors and exit statuses."""
    from mds.client import Client

    fake = FakeDaemon(FULL)
    by_socket = main(["--socket", str(socket_path), *argv])
    socket_said = capsys.readouterr()
    in_process = main(list(argv), connect=lambda target: Client(app=fake.app))
    app_said = capsys.readouterr()
    assert (by_socket, socket_said.out, socket_said.err) == (
        in_process,
        app_said.out,
        app_said.err,
    )
