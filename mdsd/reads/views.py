"""The view a read sees: the current graph, or the graph at the moments the client named.

Two axes (contract 4): ``as_of`` is the valid time (the graph as it was then, as best known
now), ``known_at`` the system time (what mds had recorded by then). ``as_of=tx:N`` reads as
mds knew it at transaction N, valid at that transaction's instant.
"""

from __future__ import annotations

from datetime import datetime

from mds.wire.moments import axes_of, iso
from store import Db, FactStore


def view(
    store: FactStore, as_of: str | None, known_at: str | None = None, now: datetime | None = None
) -> Db:
    """The view a query reads: current, or at ``as_of`` (valid time) and ``known_at``
    (system time)."""
    return at(store.db(), as_of, known_at, now)


def at(current: Db, as_of: str | None, known_at: str | None, now: datetime | None = None) -> Db:
    """The view of ``current`` at the named moments (``AsOfError`` for a bad one)."""
    axes = axes_of(as_of, known_at, now)
    db = current if axes.known is None else current.as_of(axes.known)
    if axes.valid_at_known:
        return db.valid_at(db.basis_at)
    return db if axes.valid is None else db.valid_at(axes.valid)


def describe(db: Db) -> dict[str, object]:
    """The view an answer was read from: its system basis (``tx`` and that transaction's
    instant ``at``) and its valid time (``None``: the latest)."""
    at = db.basis_at
    return {"tx": db.basis_tx, "at": iso(at) if at else None, "valid_time": iso(db.valid_time)}


def said(db: Db) -> str:
    """The view in words, for messages: "now", "as of tx N" (mds's view at that
    transaction), or its valid time and what mds knew."""
    if db.is_current:
        return "now"
    past = db.basis_tx < db.store.last_tx
    if past and db.basis_tx == 0:
        first = db.store.instant_of(1)
        recorded = f" (its first transaction was at {iso(first)})" if first else ""
        return f"as of tx 0: mds had recorded nothing yet{recorded}"
    if past and (db.valid_time is None or db.valid_time == db.basis_at):
        return f"as of tx {db.basis_tx}"
    valid = f"as of {iso(db.valid_time)} (valid time)"
    return f"{valid}, as mds knew it at tx {db.basis_tx}" if past else valid
