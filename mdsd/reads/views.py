"""The view a read sees: the current graph, or the graph as of a moment the client named."""

from __future__ import annotations

from mds.wire.moments import iso, parse_as_of
from store import Db, FactStore


def view(store: FactStore, as_of: str | None) -> Db:
    """The view a query reads: current, or as of ``as_of``."""
    db = store.db()
    if not as_of or as_of.strip().lower() == "now":
        return db
    return db.as_of(parse_as_of(as_of))


def describe(db: Db) -> dict[str, object]:
    at = db.basis_at
    return {"tx": db.basis_tx, "at": iso(at) if at else None}
