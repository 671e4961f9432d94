"""docs/schema.graphql is what the code serves; regenerate it with
``.venv/bin/python -m mdsd.api.graphql --print-schema > docs/schema.graphql``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdsd.api.graphql import sdl
from mdsd.api.graphql.__main__ import main

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"


def test_checked_in_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == sdl(), (
        "docs/schema.graphql is out of date: run "
        "`.venv/bin/python -m mdsd.api.graphql --print-schema > docs/schema.graphql`"
    )


def test_every_kind_is_a_type_and_a_root_field() -> None:
    text = sdl()
    for kind in ("Model", "ModelInstance", "AbTest", "AbTestCell", "DatasetVersion", "Team"):
        assert f"type {kind} implements Entity" in text
    for root in ("model(", "modelInstance(", "abTest(", "dataset(", "entity(", "search("):
        assert f"  {root}" in text


def test_print_schema_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-schema"]) == 0
    assert capsys.readouterr().out == sdl()
