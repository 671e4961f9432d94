"""The one grammar of "as of when": RFC 3339 times, dates, relative ages and transaction ids.

A read names two moments in it (contract 4): ``as_of``, the **valid time** (the graph as it
was then in the sources, as best known now), and ``known_at``, the **system time** (what mds
had recorded by then). :func:`axes_of` reads the pair; ``tx:N`` names a system-time point, so
``as_of=tx:N`` means "known at tx N, valid at that transaction's instant".

The daemon resolves the moments against its store (``mdsd.reads.views``); the clients
(``mds`` and ``mds-tui``) ask the same functions to refuse a typo at once, so no client can
disagree with the daemon on what a moment is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

AS_OF_HELP = (
    "an RFC 3339 time (2025-01-01T12:00:00Z; UTC if it has no offset), a date (2025-01-01, "
    "meaning its end), an age (30m, 12h, 3d, 2w), a transaction (tx:42) or now"
)


#: what each axis means, in the words every client's help uses
VALID_TIME_HELP = (
    "valid time: the graph as it was at WHEN in the sources, as best known now (reaches back "
    "before mds started, as far as the sources' own timestamps go)"
)
KNOWN_AT_HELP = (
    "system time: only what mds had recorded by WHEN (what it would have shown then); "
    "combines with --as-of"
)


class AsOfError(ValueError):
    """``as_of`` could not be understood; the message says what is accepted."""


def is_age(text: str) -> bool:
    """Whether ``text`` names a moment as an age (``30m``, ``3d``): "ago", not "at"."""
    return _RELATIVE.match(text.strip().lower()) is not None


def moment_of(
    text: str | None, now: datetime | None = None, name: str = "as_of"
) -> int | datetime | None:
    """What an ``as_of`` (or a ``known_at``: ``name``) asks for: ``None`` for the current
    graph (no value, blank or ``now``), else the transaction id or aware datetime
    :func:`parse_as_of` reads; ``AsOfError`` if it is neither."""
    if text is None or text.strip().lower() in ("", "now"):
        return None
    return parse_as_of(text, now, name)


@dataclass(frozen=True, slots=True)
class Axes:
    """The two moments one read asks for, parsed.

    ``valid``: the valid time, ``None`` for the latest. ``known``: the system time (a
    transaction or an instant), ``None`` for all mds has recorded. ``valid_at_known``: the
    valid time is the instant of the ``known`` transaction (``as_of=tx:N``)."""

    valid: datetime | None = None
    known: int | datetime | None = None
    valid_at_known: bool = False


def axes_of(as_of: str | None, known_at: str | None, now: datetime | None = None) -> Axes:
    """The moments of a read's ``as_of`` (valid time) and ``known_at`` (system time), ages
    counted from the one ``now``. ``as_of=tx:N`` names the system time itself, so it cannot
    come with a ``known_at`` too (``AsOfError`` says so)."""
    now = now or datetime.now(UTC)
    valid = moment_of(as_of, now)
    known = moment_of(known_at, now, "known_at")
    if isinstance(valid, int):
        if known is not None:
            raise AsOfError(
                f"as_of {as_of!r} is a transaction, which already names the system time "
                f"(known_at tx:{valid}); give known_at alone, or a time (not tx:N) as as_of"
            )
        return Axes(known=valid, valid_at_known=True)
    return Axes(valid=valid, known=known)


def parse_as_of(text: str, now: datetime | None = None, name: str = "as_of") -> int | datetime:
    """A transaction id or an aware datetime for ``text`` (which names a moment, not ``now``);
    ``name`` is the parameter an ``AsOfError`` names."""
    value = text.strip()
    if value.lower().startswith("tx:"):
        number = value[3:]
        if not number.isdigit():
            raise AsOfError(f"bad {name} {text!r}: tx: needs a number; use {AS_OF_HELP}")
        return int(number)
    # a well-formed text can still name no moment (2025-13-45, 10**12 days ago): each
    # step's ValueError or OverflowError is the caller's mistake, never a server error
    match = _RELATIVE.match(value.lower())
    is_date = _DATE.fullmatch(value) is not None
    try:
        if match:
            amount, unit = match.groups()
            return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
        if is_date:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max, tzinfo=UTC)
        # RFC 3339 (5.6) allows a lowercase t and z, which fromisoformat refuses
        moment = datetime.fromisoformat(value.upper())
    except (ValueError, OverflowError) as exc:
        # fromisoformat's own words quote the text upper-cased: only a date's are worth saying
        reason = f" ({exc})" if match or is_date else ""
        raise AsOfError(f"bad {name} {text!r}{reason}: use {AS_OF_HELP}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, the form every answer gives times in."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_epoch(epoch: float | None) -> str | None:
    """RFC 3339 of a Unix time (the journal keeps times as epoch seconds)."""
    return None if epoch is None else iso(datetime.fromtimestamp(epoch, tz=UTC))
