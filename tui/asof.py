"""Time travel: reading the user's as-of moment and stepping between transactions.

The daemon resolves the moment (docs/api.md); we only check its form so a typo is
reported at once instead of as a 400 on every view.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

LIVE_WORDS = frozenset({"", "now", "live", "latest"})
_TX = re.compile(r"^tx:\d+$")
_RELATIVE = re.compile(r"^\d+[smhdw]$")


def normalize_as_of(text: str | None) -> str | None:
    """The value to send as ``as_of``, or ``None`` for "live" (``now``, empty).

    Accepts ``tx:N``, relative ``3d``/``12h``/``30m``, a date ``2025-01-01`` or an RFC 3339
    time; raises ``ValueError`` with the accepted forms otherwise.
    """
    value = (text or "").strip()
    if value.lower() in LIVE_WORDS:
        return None
    if value.lower().startswith("tx") and _TX.match(value.lower().replace(" ", "")):
        return value.lower().replace(" ", "")
    if _RELATIVE.match(value):
        return value
    try:
        date.fromisoformat(value)
        return value
    except ValueError:
        pass
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return value
    except ValueError:
        pass
    raise ValueError(
        f"not a moment: {value!r}; use a date (2025-01-01), a time (2025-01-01T12:00:00Z), "
        "relative (3d, 12h, 30m), tx:N, or now"
    )


def step_tx(txs: Iterable[int], current: int | None, step: Literal[-1, 1]) -> int | None:
    """The transaction one step before/after ``current`` among ``txs``, or ``None``.

    ``txs`` are the transactions where something changed (an entity's history, or global
    history); ``current`` is the as-of transaction, ``None`` when live. Stepping back from a
    moment goes to the change *before* the version shown at that moment, so the first ``{``
    from live shows the previous version, not the current one again.
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
