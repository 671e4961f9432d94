"""The one grammar of "as of when": RFC 3339 times, dates, relative ages and transaction ids.

The daemon resolves a moment against its store (``mdsd.reads.views``); the clients (``mds``
and ``mds-tui``) ask the same :func:`moment_of` to refuse a typo at once, so no client can
disagree with the daemon on what a moment is.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

AS_OF_HELP = (
    "an RFC 3339 time (2025-01-01T12:00:00Z; UTC if it has no offset), a date (2025-01-01, "
    "meaning its end), an age (30m, 12h, 3d, 2w), a transaction (tx:42) or now"
)


class AsOfError(ValueError):
    """``as_of`` could not be understood; the message says what is accepted."""


def moment_of(text: str | None, now: datetime | None = None) -> int | datetime | None:
    """What an ``as_of`` asks for: ``None`` for the current graph (no value, blank or ``now``),
    else the transaction id or aware datetime :func:`parse_as_of` reads; ``AsOfError`` if it is
    neither."""
    if text is None or text.strip().lower() in ("", "now"):
        return None
    return parse_as_of(text, now)


def parse_as_of(text: str, now: datetime | None = None) -> int | datetime:
    """A transaction id or an aware datetime for ``text`` (which names a moment, not ``now``)."""
    value = text.strip()
    if value.lower().startswith("tx:"):
        number = value[3:]
        if not number.isdigit():
            raise AsOfError(f"bad as_of {text!r}: tx: needs a number; use {AS_OF_HELP}")
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
        raise AsOfError(f"bad as_of {text!r}{reason}: use {AS_OF_HELP}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, the form every answer gives times in."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_epoch(epoch: float | None) -> str | None:
    """RFC 3339 of a Unix time (the journal keeps times as epoch seconds)."""
    return None if epoch is None else iso(datetime.fromtimestamp(epoch, tz=UTC))
