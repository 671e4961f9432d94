"""The daemon's files are its user's alone, whatever umask it was started with.

Under umask 022 the journal (dead letters hold whatever was sent) was world-readable;
under 000 the data dir, inbox, ``facts/`` and ``search/`` were world-writable: another user
fed events through the inbox, wrote into ``facts/`` and replaced the socket folder with a
fake daemon. So the daemon sets umask 077, makes what already exists 0700/0600, and refuses
to start on a data dir or socket dir that another user could have written to meanwhile.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: what the daemon creates is readable and writable by its user only
PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class NotPrivate(RuntimeError):
    """A directory the daemon would trust can be written by another user."""


def check_private_dir(path: Path, what: str) -> None:
    """Raise ``NotPrivate`` if the existing directory ``path`` belongs to another user (root
    aside) or is writable by its group or by others; ``what`` names it in the message."""
    info = path.stat()
    own = os.geteuid()
    if info.st_uid not in (own, 0):
        raise NotPrivate(
            f"{what} {path} belongs to uid {info.st_uid}, not to this user (uid {own}): "
            f"another user could have changed what it holds; use a {what} of your own"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_ISVTX and mode & stat.S_IWOTH:  # /tmp and the like: not one to chmod
        raise NotPrivate(
            f"{what} {path} is shared by all users (mode {mode:04o}); give mdsd a "
            "directory of its own there (e.g. a subdirectory it creates)"
        )
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise NotPrivate(
            f"{what} {path} is writable by other users (mode {mode:04o}), so they could have "
            f"put files in it; check what it holds, then `chmod 700 {path}` and start again"
        )


def make_private(data_dir: Path) -> None:
    """Set the process umask to ``PRIVATE_UMASK``, create ``data_dir`` 0700 if missing, and
    make everything already in it 0700 (directories) or 0600 (files); symlinks are left as
    they are. Raises ``NotPrivate`` (before changing anything) for a data dir another user
    could write to."""
    os.umask(PRIVATE_UMASK)
    if data_dir.exists():
        check_private_dir(data_dir, "data dir")
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(data_dir, PRIVATE_DIR_MODE)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _restrict(Path(root, name), PRIVATE_DIR_MODE)
        for name in files:
            _restrict(Path(root, name), PRIVATE_FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    """``chmod`` unless ``path`` is a symlink (whose target is not ours to change) or
    already has ``mode``; a file gone meanwhile is no matter."""
    try:
        info = path.lstat()
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
