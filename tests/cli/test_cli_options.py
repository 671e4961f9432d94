"""Local validation of argument values."""

from __future__ import annotations

import argparse

import pytest

from mds.cli import options


@pytest.mark.parametrize("when", ["3D", "3 d", "TX:42", "2025-01-01t12:00:00z", "now"])
def test_as_of_returns_the_text_unchanged(when: str) -> None:
    """The daemon interprets it (an age counts from when it answers); which texts are
    moments is tests/test_as_of_grammar.py's table, the same for daemon, CLI and TUI."""
    assert options.as_of(when) == when


@pytest.mark.parametrize("when", ["", "  "])
def test_a_blank_as_of_is_refused_not_taken_for_now(when: str) -> None:
    """``--as-of "$WHEN"`` with WHEN unset is a mistake to report, not a request for now."""
    with pytest.raises(argparse.ArgumentTypeError, match="WHEN is empty"):
        options.as_of(when)


def test_kind_accepts_both_spellings() -> None:
    assert options.kind("model-instance") == "model-instance"
    assert options.kind("ModelInstance") == "model-instance"
    assert options.kind("AbTest") == "ab-test"
    with pytest.raises(argparse.ArgumentTypeError, match="known: model"):
        options.kind("models")


def test_relationship_types() -> None:
    assert options.relationship_types("reads, writes") == ["reads", "writes"]
    with pytest.raises(argparse.ArgumentTypeError, match="bogus"):
        options.relationship_types("reads,bogus")
    with pytest.raises(argparse.ArgumentTypeError):
        options.relationship_types(",")


def test_whole_numbers() -> None:
    assert options.int_at_least(1)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        options.int_at_least(1)("0")
    with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
        options.int_at_least(0)("0.5")
