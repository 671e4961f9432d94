"""Time travel: reading the user's moments and stepping between changes.

Two axes (docs/api.md): the as-of moment is valid time (the graph as it was then in the
sources, reaching back before the daemon started); the known-at moment is system time (what
mds had recorded then: "as mds knew it"). The prompt takes ``WHEN`` (valid time),
``known WHEN`` (as mds knew it then) or ``WHEN known WHEN``.

What a moment is, is the daemon's grammar (:mod:`mds.wire.moments`): checked here so a typo
is reported at once instead of as a 400 on every view.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, TypedDict, TypeVar

from mds.wire.moments import axes_of, moment_of


class Moments(TypedDict):
    """What every read of the explorer passes its client (``client.entity(id, **moments)``)."""

    as_of: str | None
    known_at: str | None


T = TypeVar("T", int, datetime)

_KNOWN = re.compile(r"(?:^|\s)known(?:\s+|$)", re.IGNORECASE)


def normalize_as_of(text: str | None, name: str = "as_of") -> str | None:
    """The value to send as ``as_of`` (or ``known_at``: ``name``), or ``None`` for live
    (``now``, empty).

    A transaction is sent as ``tx:N``, the form the as-of bar and stepping read; any other
    moment as typed. Raises ``AsOfError`` (a ``ValueError``) naming the accepted forms.
    """
    moment = moment_of(text, name=name)
    if moment is None:
        return None
    return f"tx:{moment}" if isinstance(moment, int) else (text or "").strip()


def parse_moments(text: str | None) -> tuple[str | None, str | None]:
    """``(as_of, known_at)`` of what was typed at the as-of prompt: ``WHEN`` (valid time),
    ``known WHEN`` (system time: as mds knew it then) or ``WHEN known WHEN``. ``AsOfError``
    (a ``ValueError``) for a moment it cannot read, or for ``tx:N known ...`` (a transaction
    already names the system time)."""
    parts = _KNOWN.split(text or "", maxsplit=1)
    valid, known = (parts[0], parts[1]) if len(parts) == 2 else (text, None)
    as_of = normalize_as_of(valid)
    known_at = normalize_as_of(known, "known_at") if known is not None else None
    axes_of(as_of, known_at)
    return as_of, known_at


def said_moments(as_of: str | None, known_at: str | None) -> str:
    """The moments in words for messages, each with its axis; empty when live."""
    parts = []
    if as_of is not None:
        parts.append(f"as of {as_of}" + ("" if as_of.startswith("tx:") else " (valid time)"))
    if known_at is not None:
        parts.append(f"as mds knew it at {known_at}")
    return ", ".join(parts)


def typed(as_of: str | None, known_at: str | None) -> str:
    """What the prompt shows for ``(as_of, known_at)``: the text :func:`parse_moments` reads."""
    return " ".join(p for p in (as_of or "", f"known {known_at}" if known_at else "") if p)


def step_tx(txs: Iterable[T], current: T | None, step: Literal[-1, 1]) -> T | None:
    """The moment one step before/after ``current`` among ``txs``, or ``None``.

    ``txs`` are the moments where something changed (the valid times of an entity's
    changes, or the graph's transactions); ``current`` is the moment shown, ``None`` when
    live. Stepping back from a moment goes to the change *before* the version shown at that
    moment, so the first ``{`` from live shows the previous version, not the current one
    again.
    """
    ordered = sorted(set(txs))
    if not ordered:
        return None
    if step < 0:
        shown = (
            ordered[-1]
            if current is None
            else max((t for t in ordered if t <= current), default=None)
        )
        if shown is None:
            return None
        return max((t for t in ordered if t < shown), default=None)
    if current is None:
        return None
    return min((t for t in ordered if t > current), default=None)
