"""One grammar of "as of when": the daemon, ``mds --as-of`` and the explorer's prompt accept
and refuse the same texts, in the same words, because all three ask ``mds.wire.moments``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from mds.cli import options
from mds.wire.moments import AS_OF_HELP, AsOfError, Axes, axes_of, moment_of
from tui.asof import normalize_as_of, parse_moments

#: text -> whether it names a moment (or ``now``); a blank one is not here: the daemon reads it
#: as no ``as_of``, the prompt as live, and ``mds --as-of ''`` refuses it (tests/cli)
MOMENTS = {
    "3D": True,
    "3 d": True,
    "12h": True,
    "45s": True,
    "2w": True,
    "tx:5": True,
    "TX:5": True,
    "tx:0": True,
    "2025-01-01": True,
    "2025-01-01t12:00:00z": True,
    "2025-01-01T12:00:00Z": True,
    "2025-01-01 12:00:00+02:00": True,
    "2025-01-01T12:00:00": True,
    "now": True,
    " NOW ": True,
    "2025-13-45": False,
    "2025-02-30": False,
    "2025-01-01T25:00:00Z": False,
    "tx:": False,
    "tx:abc": False,
    "TX: 42": False,
    "3y": False,
    "3 days": False,
    "99999999999d": False,
    "now-1d": False,
    "live": False,
    "soon": False,
}


def _refusal(read: Callable[[str], object], text: str) -> str | None:
    """``None`` if ``read`` takes ``text``, else what it says (``AsOfError``, a
    ``ValueError``, or for the CLI argparse's ``ArgumentTypeError``)."""
    try:
        read(text)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        return str(exc)
    return None


READERS: dict[str, Callable[[str], object]] = {
    "mdsd": moment_of,
    "mds --as-of": options.as_of,
    "mds-tui prompt": normalize_as_of,
}


@pytest.mark.parametrize("text", MOMENTS)
def test_daemon_cli_and_tui_agree(text: str) -> None:
    said = {reader: _refusal(read, text) for reader, read in READERS.items()}
    if MOMENTS[text]:
        assert said == dict.fromkeys(READERS), f"{text!r} refused somewhere"
    else:
        assert len(set(said.values())) == 1, f"{text!r} refused in different words: {said}"
        assert said["mdsd"] is not None and AS_OF_HELP in said["mdsd"]


# -- the two axes -------------------------------------------------------------------------------


def test_as_of_is_valid_time_known_at_system_time_and_they_combine() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    both = axes_of("2025-01-01", "3d", now)
    assert both == Axes(
        valid=datetime.combine(date(2025, 1, 1), time.max, tzinfo=UTC),
        known=now - timedelta(days=3),
    )
    assert axes_of(None, "tx:7", now) == Axes(known=7)
    assert axes_of("now", None, now) == Axes()


def test_a_transaction_as_of_is_known_at_that_transaction_valid_at_its_instant() -> None:
    assert axes_of("tx:5", None) == Axes(known=5, valid_at_known=True)
    with pytest.raises(AsOfError, match="already names the system time"):
        axes_of("tx:5", "1h")


def test_a_bad_known_at_is_refused_by_its_own_name_everywhere() -> None:
    said = {
        "mdsd": _refusal(lambda t: axes_of(None, t), "3y"),
        "mds --known-at": _refusal(options.known_at, "3y"),
        "mds-tui prompt": _refusal(parse_moments, "known 3y"),
    }
    assert len(set(said.values())) == 1 and "bad known_at '3y'" in str(said["mdsd"]), said


def test_the_explorer_prompt_names_either_axis_or_both() -> None:
    assert parse_moments("2025-01-01") == ("2025-01-01", None)
    assert parse_moments("known 1h") == (None, "1h")
    assert parse_moments("2025-01-01 known tx:9") == ("2025-01-01", "tx:9")
    assert parse_moments("TX:4") == ("tx:4", None)
    assert parse_moments("now") == (None, None)
    with pytest.raises(ValueError, match="already names the system time"):
        parse_moments("tx:4 known 1h")
