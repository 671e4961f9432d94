"""One grammar of "as of when": the daemon, ``mds --as-of`` and the explorer's prompt accept
and refuse the same texts, in the same words, because all three ask ``mds.wire.moments``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from mds.cli import options
from mds.wire.moments import AS_OF_HELP, moment_of
from tui.asof import normalize_as_of

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
