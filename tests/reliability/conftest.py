"""Helpers of the reliability suite: attacks tried as another local user need root to
become that user; those tests skip, saying so, where the suite does not run as root."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pytest

#: a uid no account on the machine uses: "another local user"
STRANGER = 54_321

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="acting as another local user needs root (setuid, chown)"
)


class Scheduled:
    """A stand-in for hydration: records the units intake hands over."""

    def __init__(self) -> None:
        self.units: list[str] = []

    def __call__(self, queued: Iterable[tuple[str, str, int]], fresh: bool) -> None:
        self.units.extend(unit for _, unit, _ in queued)
