"""Start-up refusals: each a one-line reason on stderr and exit 1, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mds.testing import DaemonProcess, config_toml
from mdsd.__main__ import main

NOWHERE = "http://127.0.0.1:9"


def write_config(tmp_path: Path, data_dir: Path, socket: Path) -> Path:
    path = tmp_path / "mdsd.toml"
    path.write_text(config_toml(data_dir, socket, NOWHERE))
    return path


def test_a_socket_path_too_long_names_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = tmp_path / ("s" * 120) / "mdsd.sock"
    assert main(["--config", str(write_config(tmp_path, tmp_path / "data", socket))]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mdsd: cannot listen on {socket}: ")
    assert "at most 107 bytes: set a shorter [daemon] socket" in err


def test_a_data_dir_that_cannot_be_made_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    data_dir = tmp_path / "file" / "data"
    assert main(["--config", str(write_config(tmp_path, data_dir, tmp_path / "s"))]) == 1
    assert capsys.readouterr().err == f"mdsd: Not a directory: {data_dir}\n"


def test_a_log_level_is_checked_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown level was a ValueError traceback from logging, after the config loaded."""
    config = write_config(tmp_path, tmp_path / "data", tmp_path / "s")
    with pytest.raises(SystemExit) as caught:
        main(["--log-level", "loud", "check-config", "--config", str(config)])
    assert caught.value.code == 2
    assert "argument --log-level: invalid choice: 'loud'" in capsys.readouterr().err
    assert main(["--log-level", "WARNING", "check-config", "--config", str(config)]) == 0


@pytest.mark.slow
def test_a_second_daemon_on_the_same_data_dir_is_refused_by_name(tmp_path: Path) -> None:
    """It used to bind its own socket, then die in RocksDB's words with a traceback;
    ``mdsd reindex`` beside a running daemon did the same."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with DaemonProcess(tmp_path / "first", NOWHERE) as first:
        other = tmp_path / "second"
        config = write_config(other, first.data_dir, other / "mdsd.sock")
        for command in ([], ["reindex"]):
            done = subprocess.run(
                [sys.executable, "-m", "mdsd", *command, "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 1
            assert done.stderr == (
                f"mdsd: data dir {first.data_dir} is in use by another mdsd "
                f"(pid {first.process.pid}); stop it first, or give this one another "  # type: ignore[union-attr]
                "[daemon] data_dir\n"
            )
        assert not (other / "mdsd.sock").exists()
        assert first.call("status")["ready"]
