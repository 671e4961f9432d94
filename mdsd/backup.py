"""Backups of a data dir: taken online, checked, and restored into a stopped daemon's place.

A backup is a directory the daemon's user alone can read (tokens and dead letters are in
it), holding:

- ``facts/``: a RocksDB checkpoint of the fact log (hard links where the file system
  allows, so a backup of a big store is quick and small until the store compacts);
- ``journal.sqlite3``: SQLite's online backup of the intake journal: the acknowledged work
  not yet in the facts, the dead letters and each unit's state;
- ``search/main`` and ``search/owners``: the search indexes as of their last commit, held
  still while copied (left out if tantivy's merges moved them meanwhile: a restored daemon
  then rebuilds them from the facts, as it catches them up at every start);
- ``auth/``: the API tokens, so clients keep working against the restored daemon;
- the stages' small state files (where enrichment and the sources' polls are), copied
  first: a restored poll then announces again what it announced after them, which the
  journal may hold already (a redelivery), rather than miss what the journal lacks;
- ``manifest.json``, written last: the format, the version of mdsd, when it was taken, the
  fact log's last transaction and each file's size and SHA-256.

The journal is copied before the fact log: what the journal still holds, the facts may
already have (hydrating it again changes nothing), but nothing the facts lack can be gone
from the journal. So a restored daemon loses nothing acknowledged before the backup began.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from mdsd import __version__
from mdsd.base.files import write_json
from mdsd.base.private import PRIVATE_DIR_MODE
from mdsd.index.search import SearchIndex
from store import FactStore

MANIFEST = "manifest.json"
FORMAT = 1
FACTS = "facts"
JOURNAL = "journal.sqlite3"
AUTH = "auth"
INDEXES = ("search/main", "search/owners")


class BackupError(RuntimeError):
    """A backup that cannot be taken, checked or restored, and why."""


@dataclass
class Manifest:
    """What a backup holds; ``files`` maps each path to its (bytes, sha256)."""

    last_tx: int
    made_at: float
    version: str = __version__
    format: int = FORMAT
    #: index path -> the last fact-log transaction it holds; an index left out is absent
    indexed_tx: dict[str, int | None] = field(default_factory=dict)
    files: dict[str, tuple[int, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "version": self.version,
            "made_at": self.made_at,
            "last_tx": self.last_tx,
            "indexed_tx": self.indexed_tx,
            "files": {path: {"bytes": n, "sha256": h} for path, (n, h) in self.files.items()},
        }

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
            manifest = cls(
                last_tx=int(data["last_tx"]),
                made_at=float(data["made_at"]),
                version=str(data["version"]),
                format=int(data["format"]),
                indexed_tx=dict(data["indexed_tx"]),
                files={p: (int(f["bytes"]), str(f["sha256"])) for p, f in data["files"].items()},
            )
        except FileNotFoundError:
            raise BackupError(
                f"{folder} is not a complete backup: it has no {MANIFEST} (the manifest is "
                "written last, so a backup interrupted midway has none)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{path} cannot be read: {exc!r}") from exc
        if manifest.format != FORMAT:
            raise BackupError(
                f"{folder} is a backup of format {manifest.format}; this mdsd ({__version__}) "
                f"reads format {FORMAT}"
            )
        return manifest


@dataclass(frozen=True)
class BackupParts:
    """What a backup copies, from a running daemon or from stores opened for it alone.

    ``journal_backup`` copies the journal between two of its transactions;
    ``hold_indexes`` keeps the search indexes from committing while they are copied;
    ``state_files``: the stages' state in the data dir's top level (absent ones skipped)."""

    facts: FactStore
    journal_backup: Callable[[Path], Awaitable[None]]
    indexes: Mapping[str, SearchIndex]
    hold_indexes: asyncio.Lock
    auth: Path
    state_files: Sequence[Path] = ()


def _new_folder(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not an empty directory: give a new one")
    target.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(target, PRIVATE_DIR_MODE)


async def take(parts: BackupParts, target: Path) -> Manifest:
    """Write a backup of ``parts`` into the new or empty directory ``target``.

    The daemon goes on meanwhile: writes wait only for the fact log's checkpoint (hard
    links, milliseconds) and index commits for the indexes' copy."""
    _new_folder(target)
    for state in parts.state_files:
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(state, target / state.name)
    await parts.journal_backup(target / JOURNAL)
    # no await from here to the checkpoint: no transaction commits between the two lines
    last_tx = parts.facts.last_tx
    parts.facts.checkpoint(target / FACTS)
    manifest = Manifest(last_tx=last_tx, made_at=time.time())
    async with parts.hold_indexes:
        for name, index in parts.indexes.items():
            manifest.indexed_tx[name] = await asyncio.to_thread(
                _copy_index, index.path, target / name, index.indexed_tx
            )
    if parts.auth.is_dir():
        await asyncio.to_thread(shutil.copytree, parts.auth, target / AUTH)
    manifest.files = await asyncio.to_thread(_files, target)
    _write_manifest(target, manifest)
    return manifest


def _copy_index(source: Path, copy: Path, indexed_tx: int | None) -> int | None:
    """Copy an index, and open the copy: tantivy merges in threads of its own and may delete
    a segment midway. Two tries; then the index is left out (None), to be rebuilt."""
    if indexed_tx is None:
        return None
    for _ in range(2):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.lock"))
        try:
            tantivy.Index.open(str(copy)).searcher()
            return indexed_tx
        except (OSError, ValueError):
            continue
    shutil.rmtree(copy, ignore_errors=True)
    return None


def _files(folder: Path) -> dict[str, tuple[int, str]]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            found[path.relative_to(folder).as_posix()] = (path.stat().st_size, _sha256(path))
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    write_json(folder / MANIFEST, manifest.to_json(), indent=2, sort_keys=True)


def verify(folder: Path) -> Manifest:
    """Check a backup whole, changing nothing in it; its manifest, or ``BackupError`` with
    every problem found: files missing, extra, of another size or content; a fact log that
    does not open at its manifest's transaction; a journal that fails SQLite's check."""
    manifest = Manifest.read(folder)
    problems = []
    held = _files(folder)
    for path, (size, digest) in manifest.files.items():
        if path not in held:
            problems.append(f"{path}: missing")
        elif held[path] != (size, digest):
            problems.append(f"{path}: changed since the backup ({held[path][0]} bytes)")
    problems += [f"{path}: not in the manifest" for path in held.keys() - manifest.files.keys()]
    if not problems:
        problems += _check_facts(folder / FACTS, manifest.last_tx)
        problems += _check_journal(folder / JOURNAL)
    if problems:
        raise BackupError(f"{folder} fails its check: " + "; ".join(problems))
    return manifest


def _check_facts(facts: Path, last_tx: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="mds-verify-") as follower:
        try:  # a secondary instance: it reads the checkpoint and writes only in ``follower``
            with FactStore(facts, secondary=follower) as store:
                store.catch_up()
                found = store.last_tx
        except Exception as exc:  # RocksDB's own errors name no common class
            return [f"{FACTS}: does not open: {exc}"]
    if found != last_tx:
        return [f"{FACTS}: ends at transaction {found}, the manifest says {last_tx}"]
    return []


def _check_journal(journal: Path) -> list[str]:
    try:
        uri = f"file:{journal}?mode=ro&immutable=1"
        with sqlite3.connect(uri, uri=True) as db:
            (verdict,) = db.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.Error as exc:
        return [f"{JOURNAL}: does not open: {exc}"]
    return [] if verdict == "ok" else [f"{JOURNAL}: {verdict}"]


def restore(folder: Path, data_dir: Path, *, replace: bool = False) -> tuple[Manifest, Path | None]:
    """Check the backup in ``folder``, then make it ``data_dir`` (of a stopped daemon).

    A data dir that holds a fact log is kept: refused, or with ``replace`` moved aside to
    ``{data_dir}.before-restore-{time}`` (returned), never deleted."""
    manifest = verify(folder)
    moved = None
    if (data_dir / FACTS).exists():
        if not replace:
            raise BackupError(
                f"{data_dir} already holds a fact log; restore into a new data dir, or give "
                "--replace to move this one aside first (it is kept, not deleted)"
            )
        moved = data_dir.with_name(f"{data_dir.name}.before-restore-{int(time.time())}")
        data_dir.rename(moved)
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    for part in sorted(folder.iterdir()):
        if part.is_dir():
            shutil.copytree(part, data_dir / part.name)
        elif part.name != MANIFEST:
            shutil.copy2(part, data_dir / part.name)
    return manifest, moved
