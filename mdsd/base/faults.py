"""Telling a fault of our storage from a verdict on the input.

A full disk or a failing device makes every write fail, whatever it writes: the unit being
hydrated is as good as before, and moving it to the dead letters (which are on the same
disk) lost acknowledged work and killed the tasks that tried. Such errors are storage
faults: the stage that hit one pauses with its work kept, and resumes once the fault clears
(``mdsd.base.storage``). Anything else is still judged as before.

Each store reports its faults its own way: the OS as ``OSError`` with an errno, SQLite as
``sqlite3.Error`` with an extended result code, RocksDB (rocksdict) as a bare ``Exception``
whose message starts with its status ("IO error: No space left on device: ..."), and
tantivy as a ``ValueError`` saying its index writer was killed (a worker thread's I/O error).
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Literal

FaultKind = Literal["no_space", "io"]
NO_SPACE: FaultKind = "no_space"
IO: FaultKind = "io"

_NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_IO_ERRNOS = frozenset({errno.EIO, errno.EROFS})
#: SQLite primary result codes (the low byte of the extended code)
_SQLITE_FULL = 13
_SQLITE_IO = frozenset({10, 14, 8})  # IOERR, CANTOPEN, READONLY (a file system remounted ro)
_ROCKSDB_IO_PREFIX = "IO error:"
_NO_SPACE_WORDS = ("No space left on device", "os error 28", "disk is full", "NoSpace")
_TANTIVY_IO_WORDS = ("index writer was killed", "io::Error", "IoError", "An IO error occurred")


class StorageFault(Exception):
    """A write that failed because of where it writes, not what: retry it once the
    fault clears. ``store`` names what failed (journal, facts, search, disk)."""

    def __init__(self, store: str, kind: FaultKind, detail: str) -> None:
        super().__init__(detail)
        self.store = store
        self.kind = kind
        self.detail = detail

    @property
    def no_space(self) -> bool:
        return self.kind == NO_SPACE


def storage_fault(exc: BaseException, store: str | None = None) -> StorageFault | None:
    """``exc``, or the error that caused it, as a storage fault; None when it is not one.

    ``store`` names the store for the report; by default it is read off the error's type."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        fault = _classify(current, store)
        if fault is not None:
            return fault
        current = current.__cause__ or current.__context__
    return None


def _classify(exc: BaseException, store: str | None) -> StorageFault | None:
    if isinstance(exc, StorageFault):
        return exc
    message = str(exc)
    kind: FaultKind | None = None
    if isinstance(exc, OSError):
        if exc.errno in _NO_SPACE_ERRNOS:
            kind = NO_SPACE
        elif exc.errno in _IO_ERRNOS:
            kind = IO
        return None if kind is None else StorageFault(store or "disk", kind, message)
    if isinstance(exc, sqlite3.Error):
        kind = _sqlite_kind(exc)
        return None if kind is None else StorageFault(store or "journal", kind, message)
    if type(exc) is Exception and message.startswith(_ROCKSDB_IO_PREFIX):
        return StorageFault(store or "facts", _kind_of(message), message)
    if isinstance(exc, ValueError) and any(word in message for word in _TANTIVY_IO_WORDS):
        return StorageFault(store or "search", _kind_of(message), message)
    return None


def _sqlite_kind(exc: sqlite3.Error) -> FaultKind | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised by the driver itself, not by SQLite: read its message
        message = str(exc)
        if "database or disk is full" in message:
            return NO_SPACE
        return IO if "disk I/O error" in message else None
    primary = code & 0xFF
    if primary == _SQLITE_FULL:
        return NO_SPACE
    return IO if primary in _SQLITE_IO else None


def _kind_of(message: str) -> FaultKind:
    return NO_SPACE if any(word in message for word in _NO_SPACE_WORDS) else IO
