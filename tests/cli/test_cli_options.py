"""Local validation of argument values."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mds.cli import options

ACCEPTED = [
    "2025-01-01T12:00:00Z",
    "2025-01-01 12:00:00+02:00",
    "2025-01-01T12:00:00.123456-05:30",
    "2025-01-01T12:00:00",  # UTC, as the daemon reads it
    "2025-01-01t12:00:00z",  # RFC 3339 5.6: lowercase t and z
    "2025-01-01",
    "3d",
    "12h",
    "30m",
    "45s",
    "2w",
    "3 d",
    "now",
    "tx:0",
    "TX:42",
]
REJECTED = [
    "2025-02-30",
    "2025-01-01T25:00:00Z",
    "3 days",
    "3y",
    "tx:abc",
    "tx:",
    "now-1d",
    "soon",
]


@pytest.mark.parametrize("when", ACCEPTED)
def test_as_of_accepts_and_returns_unchanged(when: str) -> None:
    assert options.as_of(when) == when


@pytest.mark.parametrize("when", [*REJECTED, ""])
def test_as_of_rejects_with_the_accepted_forms(when: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"is not a time.*tx:42"):
        options.as_of(when)


def test_as_of_agrees_with_the_daemon() -> None:
    """The CLI mirrors mdsd's grammar (it cannot import it: that module loads the store).

    Checked in a fresh interpreter: in a pytest process ``tests/store`` can shadow the
    ``store`` package of an editable install.
    """
    code = (
        "import json, sys\n"
        "from mds.wire.moments import AS_OF_HELP, parse_as_of\n"
        "def ok(w):\n"
        "    try:\n"
        "        w.strip().lower() == 'now' or parse_as_of(w)\n"
        "        return True\n"
        "    except ValueError as e:\n"
        "        return str(e)\n"
        "print(json.dumps([AS_OF_HELP, [ok(w) for w in json.loads(sys.argv[1])]]))\n"
    )
    samples = ACCEPTED + REJECTED
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(samples)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    forms, answers = json.loads(result.stdout)
    daemon = dict(zip(samples, answers, strict=True))
    assert {when: answer is True for when, answer in daemon.items()} == {
        when: when in ACCEPTED for when in samples
    }
    assert forms == options.AS_OF_FORMS
    # a date's own reason helps; fromisoformat's upper-cased echo of a word does not
    assert daemon["soon"] == f"bad as_of 'soon': use {forms}"
    assert daemon["2025-02-30"].startswith("bad as_of '2025-02-30' (day is out of range")


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
