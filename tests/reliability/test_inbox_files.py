"""The inbox reads only regular files of the daemon's own user, never through a link.

As root the daemon followed symlinks dropped into the inbox and read ``/etc/shadow`` and
``/proc/self/environ`` into the dead letters. Each such entry is now refused unread, said
so in the log, and moved into ``inbox/refused/`` so the inbox empties (``wait --idle``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mdsd.intake.doors import Intake, inbox_files
from mdsd.intake.inbox_guard import REFUSED_DIR
from mdsd.intake.journal import Journal
from tests.reliability.conftest import STRANGER, Scheduled, as_root

EVENT = json.dumps({"event_type": "user_updated", "user_id": "alice"})
SECRET = "root:$6$not-for-the-dead-letters"


@pytest.fixture
async def intake(tmp_path: Path) -> AsyncIterator[Intake]:
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    yield Intake(journal, Scheduled(), {"identity"})
    await journal.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SECRET + "\n")
    return path


async def consume_all(intake: Intake, inbox: Path) -> None:
    for path in inbox_files(inbox):
        os.utime(path, (0, 0), follow_symlinks=False)  # settled long ago
    await intake._consume_waiting(inbox)


async def assert_not_read(intake: Intake, inbox: Path, name: str, *, queued: int = 0) -> None:
    letters = await intake.journal.dead_letters(100)
    assert not any(SECRET in letter.raw for letter in letters)
    assert await intake.journal.pending_count() == queued
    assert not (inbox / name).exists() and not (inbox / name).is_symlink()
    assert (inbox / REFUSED_DIR / name).is_symlink() or (inbox / REFUSED_DIR / name).exists()
    assert list(inbox_files(inbox)) == []  # nothing left for `wait --idle` to wait on


@pytest.mark.parametrize("target", ["secret", "/proc/self/environ"])
async def test_a_symlink_is_refused_unread_and_set_aside(
    intake: Intake,
    inbox: Path,
    secret: Path,
    target: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (inbox / "leak.json").symlink_to(secret if target == "secret" else target)
    (inbox / "ok.json").write_text(EVENT)
    with caplog.at_level(logging.WARNING):
        await consume_all(intake, inbox)
    await assert_not_read(intake, inbox, "leak.json", queued=1)
    assert intake.on_accepted.units == ["aip://user/identity/alice"]
    (line,) = [r.getMessage() for r in caplog.records if "leak.json" in r.getMessage()]
    assert "refused, not read: it is a symbolic link" in line
    assert not any(r.exc_info for r in caplog.records)


async def test_a_symlinked_jsonl_is_refused_too(intake: Intake, inbox: Path, secret: Path) -> None:
    (inbox / "leak.jsonl").symlink_to(secret)
    await consume_all(intake, inbox)
    await assert_not_read(intake, inbox, "leak.jsonl")


async def test_a_fifo_is_refused_without_blocking_the_inbox(intake: Intake, inbox: Path) -> None:
    os.mkfifo(inbox / "pipe.json")  # opening it to read would wait for a writer forever
    await consume_all(intake, inbox)
    await assert_not_read(intake, inbox, "pipe.json")


async def test_a_hard_link_to_a_file_elsewhere_is_refused(
    intake: Intake, inbox: Path, secret: Path
) -> None:
    os.link(secret, inbox / "linked.json")
    await consume_all(intake, inbox)
    await assert_not_read(intake, inbox, "linked.json")
    assert secret.read_text().startswith(SECRET)  # the original is untouched


@as_root
async def test_another_users_file_is_refused(
    intake: Intake, inbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = inbox / "theirs.json"
    path.write_text(EVENT)
    os.chown(path, STRANGER, STRANGER)
    with caplog.at_level(logging.WARNING):
        await consume_all(intake, inbox)
    assert intake.on_accepted.units == []
    await assert_not_read(intake, inbox, "theirs.json")
    assert any(f"belongs to uid {STRANGER}" in r.getMessage() for r in caplog.records)


async def test_a_refused_name_taken_twice_keeps_both(
    intake: Intake, inbox: Path, secret: Path
) -> None:
    for _ in range(2):
        (inbox / "leak.json").symlink_to(secret)
        await consume_all(intake, inbox)
    assert len(list((inbox / REFUSED_DIR).iterdir())) == 2


async def test_the_daemons_own_regular_files_are_still_read(intake: Intake, inbox: Path) -> None:
    (inbox / "mine.jsonl").write_text(EVENT + "\n")
    await consume_all(intake, inbox)
    assert intake.on_accepted.units == ["aip://user/identity/alice"]
    assert not (inbox / REFUSED_DIR).exists()
