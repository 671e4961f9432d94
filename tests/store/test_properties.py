"""Property tests: the store against a naive model that replays the transactions.

For random transaction sequences over a few entities and attributes (one/many,
string/int/ref), every view ``as_of(t)`` must equal the model's state after t, ``history``
must list every change in order, and reopening the store or rebuilding its indexes from the
log must change nothing (the indexes byte for byte).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_support import INDEX_PREFIXES

from store import Add, Attribute, Cardinality, FactStore, Op, Replace, Retract, ValueType

ATTRS = {
    "p/name": Attribute("p/name", ValueType.STRING, indexed=True),
    "p/tags": Attribute("p/tags", ValueType.STRING, Cardinality.MANY),
    "p/size": Attribute("p/size", ValueType.INT),
    "p/links": Attribute("p/links", ValueType.REF, Cardinality.MANY),
    "p/owner": Attribute("p/owner", ValueType.REF),
}
XIDS = [f"aip://e{i}" for i in range(5)]
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "p/name": st.sampled_from(["a", "b", "c"]),
    "p/tags": st.sampled_from(["x", "y", "z"]),
    "p/size": st.integers(-2, 2),
    "p/links": st.sampled_from(XIDS),
    "p/owner": st.sampled_from(XIDS),
}


@st.composite
def ops(draw: st.DrawFn) -> Op:
    e = draw(st.sampled_from(XIDS))
    attr = draw(st.sampled_from(sorted(ATTRS)))
    kind = draw(st.sampled_from(["add", "add", "retract", "replace"]))
    if kind == "add":
        return Add(e, attr, draw(VALUES[attr]))
    if kind == "retract":
        return Retract(e, attr, draw(VALUES[attr]))
    most = 3 if ATTRS[attr].many else 1
    return Replace(e, attr, draw(st.lists(VALUES[attr], max_size=most, unique=True)))


TRANSACTIONS = st.lists(st.lists(ops(), min_size=1, max_size=4), min_size=1, max_size=8)

# -- the model -------------------------------------------------------------------------------

State = dict[tuple[str, str], frozenset[Any]]  # (xid, attribute) -> values (refs as xids)


@dataclass
class Model:
    """Transactions replayed the slow, obvious way. Refs are kept as xids."""

    existing: set[str] = field(default_factory=set)
    state: State = field(default_factory=dict)
    #: after each committed transaction: (entities, state, {xid: changes of that tx})
    snapshots: list[tuple[frozenset[str], State]] = field(default_factory=list)
    changes: list[dict[str, set[tuple[str, Any, bool]]]] = field(default_factory=list)

    def transact(self, tx_ops: list[Op]) -> bool:
        """Apply one transaction; whether it changed anything (the store then wrote a tx)."""
        existing, state = set(self.existing), dict(self.state)
        for op in tx_ops:
            ref = ATTRS[op.attr].is_ref
            if isinstance(op, Retract):
                if op.e not in existing or (ref and op.value not in existing):
                    continue
                values = state.get((op.e, op.attr), frozenset())
                state[(op.e, op.attr)] = values - {op.value}
                continue
            new = [op.value] if isinstance(op, Add) else list(op.values)
            existing.add(op.e)
            if ref:
                existing.update(new)
            if isinstance(op, Add) and ATTRS[op.attr].many:
                state[(op.e, op.attr)] = state.get((op.e, op.attr), frozenset()) | set(new)
            else:
                state[(op.e, op.attr)] = frozenset(new)
        changed: dict[str, set[tuple[str, Any, bool]]] = {}
        for x in existing - self.existing:
            changed.setdefault(x, set()).add(("db/xid", x, True))
        for key in set(state) | set(self.state):
            before, after = self.state.get(key, frozenset()), state.get(key, frozenset())
            for v in before - after:
                changed.setdefault(key[0], set()).add((key[1], v, False))
            for v in after - before:
                changed.setdefault(key[0], set()).add((key[1], v, True))
        if not changed:
            return False
        self.existing, self.state = existing, state
        self.snapshots.append((frozenset(existing), state))
        self.changes.append(changed)
        return True

    def entity(self, t: int, xid: str) -> dict[str, Any]:
        """The model's answer to ``as_of(t).entity`` (refs as xids, many values sorted)."""
        if t == 0:
            return {}
        existing, state = self.snapshots[t - 1]
        if xid not in existing:
            return {}
        out: dict[str, Any] = {"db/xid": xid}
        for (x, attr), values in state.items():
            if x == xid and values:
                out[attr] = sorted(values) if ATTRS[attr].many else next(iter(values))
        return out

    def refs_in(self, t: int, xid: str) -> list[tuple[str, str]]:
        if t == 0:
            return []
        _, state = self.snapshots[t - 1]
        return sorted(
            (attr, x) for (x, attr), values in state.items() if ATTRS[attr].is_ref and xid in values
        )

    def reach(self, t: int, xid: str, hops: int) -> dict[str, int]:
        """BFS over p/links and p/owner, outwards, up to ``hops``."""
        if t == 0:
            return {xid: 0}
        _, state = self.snapshots[t - 1]
        depth, frontier = {xid: 0}, [xid]
        for level in range(1, hops + 1):
            following = []
            for node in frontier:
                for attr in ("p/links", "p/owner"):
                    for target in sorted(state.get((node, attr), ())):
                        if target not in depth:
                            depth[target] = level
                            following.append(target)
            frontier = following
        return depth


# -- comparing the store with the model -----------------------------------------------------


def as_xids(store: FactStore, entity: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for attr, value in entity.items():
        if attr in ATTRS and ATTRS[attr].is_ref:
            if ATTRS[attr].many:
                value = sorted(store.xid_of(v) for v in value)
            else:
                value = store.xid_of(value)
        elif isinstance(value, list):
            value = sorted(value)
        out[attr] = value
    return out


def check_views(store: FactStore, model: Model) -> None:
    assert store.last_tx == len(model.snapshots)
    for t in range(store.last_tx + 1):
        db = store.as_of(t)
        for x in XIDS:
            e = store.lookup_xid(x)
            if e is None:
                assert all(x not in existing for existing, _ in model.snapshots)
                continue
            assert as_xids(store, db.entity(e)) == model.entity(t, x), (t, x)
            assert db.exists(e) == bool(model.entity(t, x))
            refs_in = sorted((a, store.xid_of(src)) for a, src in db.refs_in(e))
            assert refs_in == model.refs_in(t, x)
            steps = [("p/links", "out"), ("p/owner", "out")]
            walked = db.traverse([e], steps, 2)
            assert {store.xid_of(n): d for n, d in walked.depth.items()} == model.reach(t, x, 2)
            for node, (previous, attr, _) in walked.parent.items():
                assert walked.depth[previous] == walked.depth[node] - 1
                assert (attr, node) in db.refs_out(previous)
            assert set(walked.parent) == set(walked.depth) - {e}
            for source, attr, target in walked.edges:
                assert (attr, target) in db.refs_out(source)
        names = {n: db.lookup("p/name", n) for n in ("a", "b", "c")}
        for name, found in names.items():
            expected = {x for x in XIDS if model.entity(t, x).get("p/name") == name}
            assert {store.xid_of(e) for e in found} == expected


def check_history(store: FactStore, model: Model) -> None:
    for x in XIDS:
        e = store.lookup_xid(x)
        if e is None:
            continue
        expected = [
            (tx, changed[x]) for tx, changed in enumerate(model.changes, start=1) if x in changed
        ]
        history = store.history(e)
        assert [c.tx for c in history] == sorted(c.tx for c in history)
        got = [
            (
                c.tx,
                {
                    (
                        d.a,
                        store.xid_of(d.v) if ATTRS.get(d.a, ATTRS["p/name"]).is_ref else d.v,
                        d.added,
                    )
                    for d in c.datoms
                },
            )
            for c in history
        ]
        assert got == expected
        assert all(c.meta == {"n": c.tx} for c in history)


def run_sequence(transactions: list[list[Op]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "facts"
        model = Model()
        with FactStore(path) as store:
            store.install(ATTRS.values())
            for tx_ops in transactions:
                wrote = model.transact(tx_ops)
                report = store.transact(tx_ops, {"n": store.last_tx + 1})
                assert (report is not None) == wrote
            check_views(store, model)
            check_history(store, model)
            indexes = {p: list(store.index_keys(p)) for p in INDEX_PREFIXES}
        with FactStore(path) as reopened:
            check_views(reopened, model)
            assert reopened.rebuild_indexes() == len(model.snapshots)
            assert {p: list(reopened.index_keys(p)) for p in INDEX_PREFIXES} == indexes
            check_views(reopened, model)
            check_history(reopened, model)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS)
def test_store_matches_model(transactions: list[list[Op]]) -> None:
    run_sequence(transactions)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS)
def test_store_matches_model_thoroughly(transactions: list[list[Op]]) -> None:
    run_sequence(transactions)
