"""Which errors are faults of our storage (pause and retry) and which are verdicts on the
input (a dead letter): the classification every stage relies on."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from mdsd.base.faults import IO, NO_SPACE, StorageFault, storage_fault
from mdsd.connectors import InvalidPayload, SourceUnavailable

ROCKSDB_FULL = (
    "IO error: No space left on device: While appending to file: /data/facts/000004.log: "
    "No space left on device"
)
ROCKSDB_BROKEN = "IO error: Writer has previous error."
TANTIVY_KILLED = (
    "An error occurred in a thread: 'An index writer was killed.. A worker thread "
    "encountered an error (io::Error most likely) or panicked.'"
)


def real_sqlite_full(tmp_path: Path) -> sqlite3.Error:
    """SQLite's own 'database or disk is full', from a database capped at a few pages."""
    connection = sqlite3.connect(tmp_path / "capped.sqlite3")
    connection.execute("CREATE TABLE t (x TEXT)")
    connection.execute("PRAGMA max_page_count = 4")
    try:
        with pytest.raises(sqlite3.Error) as raised:
            for _ in range(100):
                connection.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
        return raised.value
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("error", "store", "kind"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk", NO_SPACE),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk", NO_SPACE),
        (OSError(errno.EIO, "Input/output error"), "disk", IO),
        (OSError(errno.EROFS, "Read-only file system"), "disk", IO),
        (Exception(ROCKSDB_FULL), "facts", NO_SPACE),
        (Exception(ROCKSDB_BROKEN), "facts", IO),
        (ValueError(TANTIVY_KILLED), "search", IO),
        (sqlite3.OperationalError("disk I/O error"), "journal", IO),
    ],
)
def test_storage_errors_are_transient_faults(error: Exception, store: str, kind: str) -> None:
    fault = storage_fault(error)
    assert fault is not None
    assert (fault.store, fault.kind) == (store, kind)


def test_a_real_full_sqlite_database_is_out_of_space(tmp_path: Path) -> None:
    fault = storage_fault(real_sqlite_full(tmp_path), "journal")
    assert fault is not None and fault.no_space and fault.store == "journal"


@pytest.mark.parametrize(
    "error",
    [
        InvalidPayload("registry answered a list where an object belongs"),
        SourceUnavailable("registry: 503"),
        ValueError("status must be one of ['deleted', 'resolved', 'stub']: 'odd'"),
        KeyError("instance_ids"),
        TypeError("'NoneType' object is not subscriptable"),
        sqlite3.IntegrityError("UNIQUE constraint failed: units.unit"),
        sqlite3.OperationalError("database is locked"),
        Exception("Corruption: block checksum mismatch"),
        Exception("Invalid argument: Column family not found"),
        ValueError("IO error: a value error that only quotes RocksDB"),
        FileNotFoundError(errno.ENOENT, "No such file or directory"),
        PermissionError(errno.EACCES, "Permission denied"),
    ],
)
def test_bad_input_and_bugs_are_not_storage_faults(error: Exception) -> None:
    assert storage_fault(error) is None


def test_a_fault_is_found_behind_the_error_it_caused() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("could not save the enrichment state") from exc
    except RuntimeError as wrapped:
        fault = storage_fault(wrapped)
    assert fault is not None and fault.no_space


def test_a_storage_fault_is_itself_and_the_store_can_be_named() -> None:
    fault = StorageFault("journal", IO, "disk I/O error")
    assert storage_fault(fault) is fault
    named = storage_fault(OSError(errno.EIO, "Input/output error"), "search")
    assert named is not None and named.store == "search"
