"""Helpers of the reliability suite: attacks tried as another local user need root to
become that user; those tests skip, saying so, where the suite does not run as root."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

#: a uid no account on the machine uses: "another local user"
STRANGER = 54_321

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="acting as another local user needs root (setuid, chown)"
)


def scheduler() -> Any:
    """A stand-in hydrator: ``units`` lists what intake scheduled."""
    units: list[str] = []
    return SimpleNamespace(
        units=units, schedule=lambda source, unit, seq, *, fresh: units.append(unit)
    )
