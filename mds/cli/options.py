"""Argument types for ``mds``: validate locally so a typo is a usage error (exit 2) with a
clear reason, instead of a round trip to the daemon and a less specific 400."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from mds.wire.model import KIND_OF, Rel
from mds.wire.moments import AS_OF_HELP, AsOfError, moment_of

#: the shells ``mds completion SHELL`` writes a script for (``completion`` has the scripts)
SHELLS = ("bash", "zsh", "fish")


def as_of(value: str) -> str:
    """A ``--as-of WHEN`` (valid time), checked with the daemon's own grammar and returned
    unchanged: the daemon does the interpreting (an age is counted from when it answers).

    A blank WHEN is refused although the daemon reads a blank ``as_of`` as none: here it is
    most likely a script's unset variable, which should not quietly mean now.
    """
    return _moment(value, "as_of")


def known_at(value: str) -> str:
    """A ``--known-at WHEN`` (system time), checked as ``--as-of`` is."""
    return _moment(value, "known_at")


def _moment(value: str, name: str) -> str:
    if not value.strip():
        flag = "--" + name.replace("_", "-")
        raise argparse.ArgumentTypeError(f"WHEN is empty; leave {flag} out, or use {AS_OF_HELP}")
    try:
        moment_of(value, name=name)
    except AsOfError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An integer type with a lower bound, for limits, depths and day counts."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}")
        return number

    return parse


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def seconds(value: str) -> float:
    """A duration as scripts write it: seconds (``90``, ``2.5``) or with a unit as kubectl
    takes it (``30s``, ``2m``, ``1h``)."""
    found = _DURATION.fullmatch(value.strip())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a duration; use seconds (90, 2.5) or 30s, 2m, 1h"
        )
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()]


#: what ``--type`` accepts: kinds (``model-instance``) and entity types (``ModelInstance``)
KINDS: tuple[str, ...] = tuple(KIND_OF.values())
_KIND_BY_SPELLING: dict[str, str] = {
    **{kind: kind for kind in KINDS},
    **{str(et).lower(): kind for et, kind in KIND_OF.items()},
}


def kind(value: str) -> str:
    """An entity kind, in either spelling; answered as the kind (``model-instance``)."""
    found = _KIND_BY_SPELLING.get(value.lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"unknown kind {value!r}; known: {', '.join(KINDS)}")
    return found


RELATIONSHIP_TYPES: tuple[str, ...] = tuple(str(rel) for rel in Rel)


def relationship_types(value: str) -> list[str]:
    """A comma-separated list of relationship types (``reads,writes``)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in RELATIONSHIP_TYPES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown relationship type {', '.join(unknown) or repr(value)}; "
            f"known: {', '.join(RELATIONSHIP_TYPES)}"
        )
    return names
