"""Shared by the store tests: the test schema and a fingerprint of a store's answers."""

from __future__ import annotations

from typing import Any

from store import Attribute, Cardinality, FactStore, ValueType

SCHEMA = [
    Attribute("node/name", ValueType.STRING, indexed=True),
    Attribute("node/size", ValueType.INT),
    Attribute("node/score", ValueType.FLOAT),
    Attribute("node/tags", ValueType.STRING, Cardinality.MANY),
    Attribute("node/upstream", ValueType.REF, Cardinality.MANY),
    Attribute("node/owner", ValueType.REF),
    Attribute("node/email", ValueType.STRING, unique=True),
    Attribute("node/config", ValueType.JSON),
]

#: every derived keyspace (rebuilt from the log)
INDEX_PREFIXES = (b"E", b"A", b"V", b"R", b"X", b"T")


def answers(store: FactStore, basis: int | None = None) -> dict[str, Any]:
    """What the store says about every entity, at every basis up to ``basis`` (default:
    the last tx): equal fingerprints mean the reads cannot tell two stores apart."""
    last = store.last_tx if basis is None else basis
    xids = sorted({str(d.v) for r in store.log(1, last + 1) for d in r.datoms if d.a == "db/xid"})
    ids = {x: store.lookup_xid(x) for x in xids}
    out: dict[str, Any] = {"ids": ids, "views": []}
    for t in range(last + 1):
        db = store.as_of(t) if basis is None else store.as_of(min(t, basis))
        view: dict[str, Any] = {}
        for x, e in ids.items():
            assert e is not None
            view[x] = (
                db.exists(e),
                db.entity(e),
                sorted(db.refs_in(e)),
                sorted(db.traverse([e], [("node/upstream", "out")], 3).depth.items()),
            )
        view["lookup"] = {n: db.lookup("node/name", n) for n in ("a", "a2", "new")}
        view["with"] = list(db.entities_with("node/upstream"))
        out["views"].append(view)
    out["history"] = {
        x: [(c.tx, c.meta, c.datoms) for c in store.history(e) if c.tx <= last]
        for x, e in ids.items()
        if e is not None
    }
    return out
