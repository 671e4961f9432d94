"""The data dir and socket dir are the daemon user's alone, whatever the umask.

Under umask 022 the journal (dead letters hold whatever was sent) was world-readable;
under 000 the data dir, inbox, ``facts/`` and ``search/`` were world-writable: another user
fed events through the inbox and wrote into ``facts/``, and replaced the socket folder.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mds.testing import DaemonProcess, config_toml
from mdsd.base.private import NotPrivate, make_private
from tests.reliability.conftest import STRANGER, as_root

NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def umask() -> Iterator[None]:
    """Whatever a test sets (and ``make_private`` sets in-process) is undone after it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of ``root`` and everything under it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def open_to_others(root: Path) -> dict[str, str]:
    return {name: f"{mode:04o}" for name, mode in modes(root).items() if mode & 0o077}


def as_stranger(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as another local user (root drops to ``STRANGER`` first)."""
    script = f"import os; os.setgid({STRANGER}); os.setuid({STRANGER})\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )


@pytest.mark.slow
@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_a_daemon_started_under_any_umask_keeps_its_files_private(
    tmp_path: Path, mask: int, umask: None
) -> None:
    os.umask(mask)  # the daemon process inherits it
    with DaemonProcess(tmp_path, NOWHERE) as daemon:
        daemon.call("ingest", b'{"event_type": "user_updated", "user_id": "alice"}')
        assert open_to_others(daemon.data_dir) == {}
        assert open_to_others(daemon.socket.parent) == {}
        for name in ("journal.sqlite3", "facts", "search", "inbox"):
            assert (daemon.data_dir / name).exists()


@as_root
@pytest.mark.slow
def test_another_user_cannot_feed_the_inbox_or_write_facts(tmp_path: Path, umask: None) -> None:
    os.umask(0o000)
    with DaemonProcess(tmp_path, NOWHERE) as daemon:
        for target in ("inbox/evil.json", "facts/evil"):
            tried = as_stranger(f"open({str(daemon.data_dir / target)!r}, 'w').write('x')")
            assert tried.returncode != 0 and "PermissionError" in tried.stderr, tried.stderr
            assert not (daemon.data_dir / target).exists()
        tried = as_stranger(f"os.listdir({str(daemon.socket.parent)!r})")
        assert "PermissionError" in tried.stderr


def start(tmp_path: Path, data_dir: Path, socket: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "mdsd.toml"
    config.write_text(config_toml(data_dir, socket, NOWHERE))
    return subprocess.run(
        [sys.executable, "-m", "mdsd", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("which", ["data", "run"])
def test_a_data_dir_or_socket_dir_writable_by_others_is_refused(tmp_path: Path, which: str) -> None:
    (tmp_path / which).mkdir()
    os.chmod(tmp_path / which, 0o777)
    started = start(tmp_path, tmp_path / "data", tmp_path / "run" / "mdsd.sock")
    assert started.returncode == 1
    what = "data dir" if which == "data" else "socket dir"
    assert started.stderr == (
        f"mdsd: {what} {tmp_path / which} is writable by other users (mode 0777), so they "
        f"could have put files in it; check what it holds, then `chmod 700 {tmp_path / which}` "
        "and start again\n"
    )
    assert not (tmp_path / "run" / "mdsd.sock").exists()


@as_root
def test_a_data_dir_of_another_user_is_refused(tmp_path: Path, umask: None) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    os.chown(data_dir, STRANGER, STRANGER)
    with pytest.raises(NotPrivate, match=f"belongs to uid {STRANGER}, not to this user"):
        make_private(data_dir)


def test_what_an_older_daemon_left_open_is_made_private(tmp_path: Path, umask: None) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "inbox").mkdir(parents=True, mode=0o755)
    (data_dir / "journal.sqlite3").write_text("")
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "journal.sqlite3", 0o644)
    (data_dir / "link").symlink_to("/etc/hostname")
    before = stat.S_IMODE(Path("/etc/hostname").stat().st_mode)
    make_private(data_dir)
    assert open_to_others(data_dir) == {}
    assert modes(data_dir)["journal.sqlite3"] == 0o600
    assert modes(data_dir)["inbox"] == 0o700
    assert stat.S_IMODE(Path("/etc/hostname").stat().st_mode) == before  # links not followed
    (data_dir / "new").write_text("")
    assert modes(data_dir)["new"] == 0o600  # the umask it set


def test_a_socket_straight_in_tmp_is_refused_with_the_way_out(tmp_path: Path) -> None:
    """The socket dir used to be chmodded 0700 whatever it was: /tmp itself, as root."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    started = start(tmp_path, tmp_path / "data", shared / "mdsd.sock")
    assert started.returncode == 1
    assert started.stderr == (
        f"mdsd: socket dir {shared} is shared by all users (mode 1777); give mdsd a directory "
        "of its own there (e.g. a subdirectory it creates)\n"
    )
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
