"""Argument types for ``mds``: validate locally so a typo is a usage error (exit 2) with a
clear reason, instead of a round trip to the daemon and a less specific 400."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date, datetime

from mdsd.model import KIND_OF, Rel

_TX = re.compile(r"tx:\d+")
_RELATIVE = re.compile(r"\d+[dhm]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_NAIVE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")

AS_OF_FORMS = (
    "an RFC 3339 time (2025-01-01T12:00:00Z), a date (2025-01-01), "
    "an age (3d, 12h, 30m) or a transaction (tx:42)"
)


def as_of(value: str) -> str:
    """A ``--as-of WHEN``, returned unchanged: the daemon does the interpreting."""
    if _TX.fullmatch(value) or _RELATIVE.fullmatch(value):
        return value
    try:
        if _DATE.fullmatch(value):
            date.fromisoformat(value)
            return value
        if _RFC3339.fullmatch(value):
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            return value
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid time: {exc}") from None
    if _NAIVE_TIME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} has no UTC offset: write it like 2025-01-01T12:00:00Z "
            "or 2025-01-01T12:00:00+02:00"
        )
    raise argparse.ArgumentTypeError(f"{value!r} is not a time; use {AS_OF_FORMS}")


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


def seconds(value: str) -> float:
    """A non-negative duration in seconds (``2``, ``0.5``)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {value}")
    return number


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
