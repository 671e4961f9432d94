"""The view a read sees: the current graph, or the graph as of a moment the client named."""

from __future__ import annotations

from mds.wire.moments import iso, moment_of
from store import Db, FactStore


def view(store: FactStore, as_of: str | None) -> Db:
    """The view a query reads: current, or as of ``as_of``."""
    db = store.db()
    moment = moment_of(as_of)
    return db if moment is None else db.as_of(moment)


def describe(db: Db) -> dict[str, object]:
    at = db.basis_at
    return {"tx": db.basis_tx, "at": iso(at) if at else None}
