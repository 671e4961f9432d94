"""The command line of mds-tui and the --demo daemon lifecycle."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tui import demo
from tui.__main__ import main
from tui.demo import DemoDaemon, DemoError, socket_answers


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--keymap", str(tmp_path / "nope.toml")]) == 2
    assert "keymap file not found" in capsys.readouterr().err
    assert main(["--as-of", "someday"]) == 2
    assert "bad as_of 'someday'" in capsys.readouterr().err


def short_socket(tmp_path: Path) -> Path:
    path = tmp_path / "d.sock"
    assert len(str(path)) < 100, "Unix socket paths are limited to about 100 bytes"
    return path


def test_demo_leaves_a_running_daemon_alone(tmp_path: Path) -> None:
    path = short_socket(tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        daemon = DemoDaemon(path)
        assert daemon.ensure() is False
        assert daemon.process is None


def fake_mdsd(tmp_path: Path) -> Path:
    """A stand-in for ``mdsd demo``: listens on ``--socket`` until a signal ends it."""
    script = tmp_path / "fake_mdsd.py"
    script.write_text(
        textwrap.dedent(
            """
            import socket, sys, time
            path = sys.argv[sys.argv.index("--socket") + 1]
            s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen()
            while True:
                time.sleep(0.1)
            """
        )
    )
    return script


def test_demo_starts_waits_for_the_socket_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = fake_mdsd(tmp_path)
    monkeypatch.setattr(demo, "mdsd_command", lambda: [sys.executable, str(script)])
    path = short_socket(tmp_path)
    daemon = DemoDaemon(path, timeout=20)
    assert daemon.ensure() is True
    process = daemon.process
    assert process is not None and socket_answers(path)
    daemon.stop()
    assert process.poll() is not None


def test_demo_that_dies_reports_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        demo,
        "mdsd_command",
        lambda: [sys.executable, "-c", "print('no demo here'); raise SystemExit(3)"],
    )
    with pytest.raises(DemoError, match="no demo here"):
        DemoDaemon(short_socket(tmp_path), timeout=20).ensure()


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_demo_does_not_outlive_an_explorer_killed_outright(tmp_path: Path) -> None:
    """SIGKILL (or a closed terminal's SIGHUP) skips the explorer's own clean-up."""
    explorer = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tui import demo
        demo.mdsd_command = lambda: [sys.executable, {str(fake_mdsd(tmp_path))!r}]
        daemon = demo.DemoDaemon(Path({str(short_socket(tmp_path))!r}), timeout=20)
        daemon.ensure()
        print(daemon.process.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", explorer], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert pid_alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the demo daemon outlived the explorer"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by init, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_demo_is_for_the_local_socket_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--server", "https://mds.example.com:8443", "--demo"]) == 2
    assert "--demo starts a local daemon" in capsys.readouterr().err


def test_an_open_token_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = tmp_path / "token"
    token.write_text("mds_x")
    token.chmod(0o644)
    argv = ["--server", "https://mds.example.com:8443", "--token-file", str(token)]
    assert main(argv) == 2
    assert "chmod 600" in capsys.readouterr().err
