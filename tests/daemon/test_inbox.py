"""The inbox watcher keeps reading whatever one file does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mdsd.intake.doors import Intake, IntakeResult


async def test_a_file_that_fails_unexpectedly_stays_and_the_next_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception out of one file's intake ended the watcher's task: no later file was
    read until a restart. Now the file stays in the inbox (``wait --idle`` shows it) and
    the others go on."""
    intake = Intake(None, None, ())  # type: ignore[arg-type]
    read: list[str] = []

    async def submit(raw: bytes, origin: str) -> IntakeResult:
        if origin == "inbox:a.json":
            raise RuntimeError("a bug")
        read.append(origin)
        return IntakeResult()

    monkeypatch.setattr(intake, "submit", submit)
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text("{}")
        os.utime(tmp_path / name, (0, 0))  # settled long ago
    await intake._consume_waiting(tmp_path)
    assert read == ["inbox:b.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
