"""One daemon per data dir: an advisory lock that the kernel drops with its holder.

The fact store's own lock refused a second daemon too, but only after it had bound its
socket, and in RocksDB's words ("IO error: While lock file: .../LOCK"). This one is taken
first, names the process that holds it, and also keeps ``mdsd reindex`` off a live index.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_NAME = "mdsd.lock"


class DataDirLock:
    """Held from ``acquire()`` until ``release()`` or the process ends, ``kill -9`` included."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``RuntimeError`` naming the daemon that has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        held = self.path.open("a+")
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.seek(0)
            holder = held.read().strip() or "unknown"
            held.close()
            raise RuntimeError(
                f"data dir {self.path.parent} is in use by another mdsd (pid {holder}); "
                "stop it first, or give this one another [daemon] data_dir"
            ) from None
        held.truncate(0)
        held.write(f"{os.getpid()}\n")
        held.flush()
        self._file = held

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
