"""Which inbox entries the daemon reads: regular files of its own user, nothing else.

As root the daemon followed symlinks dropped into the inbox and read ``/etc/shadow`` and
``/proc/self/environ`` into the dead letters. An entry that is not a regular file of the
daemon's user (a symlink, a FIFO or device, a hard link to a file elsewhere, another
user's file) is refused before a byte of it is read, and moved into ``inbox/refused/`` so
the inbox empties and the operator sees what came.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

#: inbox entries refused unread are moved into this subfolder of the inbox
REFUSED_DIR = "refused"


class Untrusted(Exception):
    """An inbox entry that is not read: why, in words for the log."""


def open_inbox_file(path: Path) -> BinaryIO:
    """``path`` open for reading, if it is a regular file of the daemon's own user with no
    other name; raises ``Untrusted`` otherwise, before reading a byte.

    As root the daemon read ``/etc/shadow`` and ``/proc/self/environ`` through symlinks
    dropped into the inbox, into the dead letters. A symlink is refused by ``O_NOFOLLOW``
    (and a look first, so a FIFO or device is never even opened); another user's file,
    or a hard link to a file elsewhere, is not the daemon user's input to take."""
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode):
        raise Untrusted(_not_regular(mode))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Untrusted("it is a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        own = os.geteuid()
        if not stat.S_ISREG(info.st_mode):
            raise Untrusted(_not_regular(info.st_mode))
        if info.st_uid != own:
            raise Untrusted(f"it belongs to uid {info.st_uid}, not to the daemon's user ({own})")
        if info.st_nlink > 1:
            raise Untrusted(f"it has {info.st_nlink - 1} other name(s) (a hard link)")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _not_regular(mode: int) -> str:
    return "it is a symbolic link" if stat.S_ISLNK(mode) else "it is not a regular file"


def set_aside(path: Path, refused: Untrusted) -> None:
    """Move a refused inbox entry, unread, into ``{inbox}/refused/``, so the inbox empties
    and the operator can see what came; the log says why."""
    aside = path.parent / REFUSED_DIR
    target = aside / path.name
    try:
        aside.mkdir(mode=0o700, exist_ok=True)
        if target.exists() or target.is_symlink():
            target = aside / f"{path.stem}.{time.time_ns()}{path.suffix}"
        path.rename(target)
    except OSError as exc:
        log.warning(
            "inbox %s refused, not read: %s; could not move it aside: %s", path.name, refused, exc
        )
        return
    log.warning(
        "inbox %s refused, not read: %s; moved to %s (only regular files of the daemon's "
        "user are read)",
        path.name,
        refused,
        target,
    )
