"""Time travel: reading the user's as-of moment and stepping between transactions.

What a moment is, is the daemon's grammar (:mod:`mds.wire.moments`, docs/api.md): checked
here so a typo is reported at once instead of as a 400 on every view.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from mds.wire.moments import moment_of


def normalize_as_of(text: str | None) -> str | None:
    """The value to send as ``as_of``, or ``None`` for live (``now``, empty).

    A transaction is sent as ``tx:N``, the form the as-of bar and stepping read; any other
    moment as typed. Raises ``AsOfError`` (a ``ValueError``) naming the accepted forms.
    """
    moment = moment_of(text)
    if moment is None:
        return None
    return f"tx:{moment}" if isinstance(moment, int) else (text or "").strip()


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
