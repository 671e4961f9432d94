"""Local validation of argument values."""

from __future__ import annotations

import argparse

import pytest

from mdsd.cli import options


@pytest.mark.parametrize(
    "when",
    [
        "2025-01-01T12:00:00Z",
        "2025-01-01t12:00:00z",
        "2025-01-01 12:00:00+02:00",
        "2025-01-01T12:00:00.123456-05:30",
        "2025-01-01",
        "3d",
        "12h",
        "30m",
        "tx:0",
        "tx:42",
    ],
)
def test_as_of_accepts_and_returns_unchanged(when: str) -> None:
    assert options.as_of(when) == when


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2025-01-01T12:00:00", "no UTC offset"),
        ("2025-01-01T12:00", "no UTC offset"),
        ("2025-02-30", "not a valid time"),
        ("2025-01-01T25:00:00Z", "not a valid time"),
        ("20250101T120000Z", "is not a time"),
        ("3 days", "is not a time"),
        ("tx:abc", "is not a time"),
        ("", "is not a time"),
        ("now", "is not a time"),
    ],
)
def test_as_of_rejects_with_a_reason(when: str, reason: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=reason):
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


def test_numbers() -> None:
    assert options.int_at_least(1)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        options.int_at_least(1)("0")
    assert options.seconds("0.5") == 0.5
    for bad in ("-1", "nan", "inf", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            options.seconds(bad)
