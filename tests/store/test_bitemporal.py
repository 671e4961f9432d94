"""Property tests of the two time axes: any (valid time, system time) view equals a naive
replay of the log that filters both axes.

Transactions of random ops, each with a random valid time (or none: the transaction's
instant), corrections and ``Created`` moves included. The oracle is the definition: a fact
is true at (V, T) when, among its datoms with ``tx <= T`` and ``valid <= V``, the latest by
(valid, tx) is an assertion. Besides: the present (latest valid time, last transaction)
equals the one-axis model's state, so valid times never lose the current truth; a
cardinality-one attribute never holds two values at any point of either axis; history lists
every datom with both times; reopening and rebuilding the indexes change nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from store_support import INDEX_PREFIXES
from test_properties import ATTRS, VALUES, XIDS, Model, as_xids

from store import Add, Created, Db, FactStore, Interpose, Op, Replace, Retract, SchemaError
from store.codec import VALID_LATEST, micros

BASE = datetime(2025, 1, 1, tzinfo=UTC)
#: a few distinct valid times, so that ops often meet at one and correct each other
MOMENTS = st.one_of(st.none(), st.integers(0, 8).map(lambda k: BASE + timedelta(days=k)))


@st.composite
def ops(draw: st.DrawFn) -> Op:
    e = draw(st.sampled_from(XIDS))
    valid = draw(MOMENTS)
    kind = draw(st.sampled_from(["add", "add", "retract", "replace", "created"]))
    if kind == "created":
        return Created(e, valid or BASE)
    attr = draw(st.sampled_from(sorted(ATTRS)))
    if kind == "add":
        return Add(e, attr, draw(VALUES[attr]), valid)
    if kind == "retract":
        return Retract(e, attr, draw(VALUES[attr]), valid)
    most = 3 if ATTRS[attr].many else 1
    return Replace(e, attr, draw(st.lists(VALUES[attr], max_size=most, unique=True)), valid)


TRANSACTIONS = st.lists(st.lists(ops(), min_size=1, max_size=4), min_size=1, max_size=8)

Datoms = dict[tuple[int, str, Any], list[tuple[int, int, bool]]]


def replay(store: FactStore) -> Datoms:
    """Every datom of the log by (entity, attribute, value): (tx, valid, added)."""
    out: Datoms = {}
    for report in store.log():
        for d in report.datoms:
            value = tuple(sorted(d.v.items())) if isinstance(d.v, dict) else d.v
            out.setdefault((d.e, d.a, value), []).append((d.tx, micros(d.valid), d.added))
    return out


def true_at(versions: Iterable[tuple[int, int, bool]], valid: int, basis: int) -> bool:
    """The definition: the latest datom by (valid, tx) within both axes is an assertion."""
    seen = [(v, tx, added) for tx, v, added in versions if tx <= basis and v <= valid]
    return bool(seen) and max(seen)[2]


def oracle(datoms: Datoms, e: int, valid: int, basis: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (entity, attr, value), versions in datoms.items():
        if entity == e and true_at(versions, valid, basis):
            if attr in ATTRS and ATTRS[attr].many:
                out.setdefault(attr, []).append(value)
            else:
                assert attr not in out, f"two values of {attr} at ({valid}, tx {basis})"
                out[attr] = value
    return {a: sorted(v) if isinstance(v, list) else v for a, v in out.items()}


def sorted_values(entity: dict[str, Any]) -> dict[str, Any]:
    return {a: sorted(v) if isinstance(v, list) else v for a, v in entity.items()}


def points(store: FactStore, datoms: Datoms) -> list[int]:
    """Every valid time where something changes, a microsecond either side, and latest."""
    moments = {v for versions in datoms.values() for _, v, _ in versions}
    return sorted({m + d for m in moments for d in (-1, 0, 1)} | {VALID_LATEST})


def check_views(store: FactStore, datoms: Datoms) -> None:
    ids = [e for e in (store.lookup_xid(x) for x in XIDS) if e is not None]
    for basis in range(store.last_tx + 1):
        for valid in points(store, datoms):
            db = store.as_of(basis).valid_at(valid)
            for e in ids:
                expected = oracle(datoms, e, valid, basis)
                assert sorted_values(db.entity(e)) == expected, (basis, valid, e)
                assert db.exists(e) == ("db/xid" in expected)
                incoming = sorted(
                    (a, src)
                    for (src, a, target), versions in datoms.items()
                    if a in ("p/links", "p/owner")
                    and target == e
                    and true_at(versions, valid, basis)
                )
                assert sorted(db.refs_in(e)) == incoming
                walked = db.traverse([e], [("p/links", "out"), ("p/owner", "out")], 1)
                reached = {t for _, t in db.refs_out(e, ["p/links", "p/owner"])} - {e}
                assert set(walked.depth) - {e} == reached
            for name in ("a", "b", "c"):
                found = set(db.lookup("p/name", name))
                assert found == {
                    e for e in ids if oracle(datoms, e, valid, basis).get("p/name") == name
                }


def check_present(store: FactStore, model: Model) -> None:
    """At the latest valid time of the last transaction: the one-axis model's state."""
    db: Db = store.db()
    for x in XIDS:
        e = store.lookup_xid(x)
        if e is not None:
            expected = {"db/xid": x} if x in model.existing else {}
            if model.snapshots:
                expected |= model.entity(len(model.snapshots), x)
            assert as_xids(store, db.entity(e)) == expected


def check_history(store: FactStore, datoms: Datoms) -> None:
    for x in XIDS:
        e = store.lookup_xid(x)
        if e is None:
            continue
        listed = {
            (
                d.a,
                tuple(sorted(d.v.items())) if isinstance(d.v, dict) else d.v,
                c.tx,
                micros(d.valid),
                d.added,
            )
            for c in store.history(e)
            for d in c.datoms
        }
        logged = {
            (a, v, tx, valid, added)
            for (entity, a, v), versions in datoms.items()
            if entity == e
            for tx, valid, added in versions
        }
        assert listed == logged


def run_sequence(transactions: list[list[Op]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "facts"
        model = Model()
        with FactStore(path) as store:
            store.install(ATTRS.values())
            for tx_ops in transactions:
                model.existing |= {str(op.e) for op in tx_ops if isinstance(op, Created)}
                model.transact([op for op in tx_ops if not isinstance(op, Created)])
                store.transact(tx_ops)
            datoms = replay(store)
            check_views(store, datoms)
            check_present(store, model)
            check_history(store, datoms)
            indexes = {p: list(store.index_items(p)) for p in INDEX_PREFIXES}
            earliest = store.earliest_valid()
        with FactStore(path) as reopened:
            assert reopened.earliest_valid() == earliest
            reopened.rebuild_indexes()
            assert {p: list(reopened.index_items(p)) for p in INDEX_PREFIXES} == indexes
            assert reopened.earliest_valid() == earliest
            check_views(reopened, datoms)


def _links_then(*names: tuple[str, datetime | None]) -> list[list[Op]]:
    """Transactions each restating a self-link of e0 and then naming e1 (found by CI)."""
    link = [Add("aip://e0", "p/links", "aip://e0")] * 3
    return [[*link, Add("aip://e1", "p/name", name, valid)] for name, valid in names]


#: a value that never held still bounds a later one; a value whose start moved back is
#: retracted after its older assertion too
FOUND = [
    _links_then(("a", None), ("b", BASE), ("a", BASE)),
    _links_then(("a", None), ("a", BASE), ("b", BASE)),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS)
@example(FOUND[0])
@example(FOUND[1])
def test_both_axes_match_a_naive_replay(transactions: list[list[Op]]) -> None:
    run_sequence(transactions)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS)
def test_both_axes_match_a_naive_replay_thoroughly(transactions: list[list[Op]]) -> None:
    run_sequence(transactions)


# -- the rules, one example each ---------------------------------------------------------------

DAY = timedelta(days=1)


def a_store(tmp: str) -> FactStore:
    store = FactStore(Path(tmp) / "facts")
    store.install(ATTRS.values())
    return store


def test_a_change_splits_the_past_and_the_old_value_stays_known_before_it() -> None:
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        store.transact([Created("aip://e0", BASE), Add("aip://e0", "p/name", "a", BASE)])
        store.transact([Replace("aip://e0", "p/name", ["b"], BASE + 5 * DAY)])
        e = store.lookup_xid("aip://e0")
        assert e is not None
        assert store.valid_at(BASE - DAY).exists(e) is False
        assert store.valid_at(BASE + DAY).get(e, "p/name") == "a"
        assert store.valid_at(BASE + 6 * DAY).get(e, "p/name") == "b"
        assert store.db().get(e, "p/name") == "b"
        # as mds knew it before the change: "a" ever after
        assert store.as_of(1).valid_at(BASE + 6 * DAY).get(e, "p/name") == "a"
        assert store.valid_at(BASE + 6 * DAY).valid_from(e, "p/name") == BASE + 5 * DAY


def test_a_stub_described_later_reaches_back_to_its_creation() -> None:
    """First seen as a stub (today), then described with its creation long ago: it exists
    from then, and its status then is the described one: the stub's never held."""
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        seen = BASE + 30 * DAY
        store.transact([Add("aip://e0", "p/name", "stub")], valid=seen)
        store.transact([Created("aip://e0", BASE), Replace("aip://e0", "p/name", ["a"], BASE)])
        e = store.lookup_xid("aip://e0")
        assert e is not None
        then = store.valid_at(BASE + DAY)
        assert then.exists(e) and then.get(e, "p/name") == "a"
        assert store.db().get(e, "p/name") == "a"
        assert store.db().known_from(e) == BASE
        # as mds knew it before the description: a stub, seen on day 30, nothing before
        assert not store.as_of(1).valid_at(BASE + DAY).exists(e)
        assert store.as_of(1).valid_at(seen).get(e, "p/name") == "stub"


def test_restating_a_value_with_an_earlier_valid_time_moves_its_start_back() -> None:
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        store.transact([Add("aip://e0", "p/tags", "x", BASE + 9 * DAY)])
        assert store.transact([Add("aip://e0", "p/tags", "x", BASE + 9 * DAY)]) is None
        store.transact([Add("aip://e0", "p/tags", "x", BASE + 2 * DAY)])
        e = store.lookup_xid("aip://e0")
        assert e is not None
        assert store.valid_at(BASE + 3 * DAY).get(e, "p/tags") == ["x"]
        assert store.as_of(1).valid_at(BASE + 3 * DAY).get(e, "p/tags") == []
        assert store.earliest_valid() == BASE + 2 * DAY


def test_a_value_replaced_from_ever_earlier_moments_holds_from_the_earliest() -> None:
    """Each ``Replace`` states the present from its moment on, whatever came before it:
    one whose value was asserted and taken back at one moment (it held nowhere) does not
    keep the next one from starting where it says (an entity's creation moved back twice
    by late events started at the first move)."""
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        for day, name in ((8, "c"), (4, "b"), (0, "a")):
            store.transact([Replace("aip://e0", "p/name", [name], BASE + day * DAY)])
        e = store.lookup_xid("aip://e0")
        assert e is not None
        for day in (0, 4, 8, 9):
            assert store.valid_at(BASE + day * DAY).get(e, "p/name") == "a", day
        assert store.as_of(2).valid_at(BASE + 5 * DAY).get(e, "p/name") == "b"


# -- a statement slotted into the past -------------------------------------------------------


@st.composite
def interposes(draw: st.DrawFn) -> Interpose:
    attr = draw(st.sampled_from(sorted(ATTRS)))
    most = 3 if ATTRS[attr].many else 1
    values = draw(st.lists(VALUES[attr], max_size=most, unique=True))
    return Interpose(draw(st.sampled_from(XIDS)), attr, values, draw(MOMENTS))


def present_model(store: FactStore) -> Model:
    """A one-axis model whose state is the store's present."""
    db = store.db()
    model = Model()
    for x in XIDS:
        e = store.lookup_xid(x)
        if e is None:
            continue
        if db.exists(e):
            model.existing.add(x)
        for attr, value in as_xids(store, db.entity(e)).items():
            if attr in ATTRS:
                model.state[(x, attr)] = frozenset(value if ATTRS[attr].many else [value])
    model.snapshots.append((frozenset(model.existing), dict(model.state)))
    return model


def held(store: FactStore, db: Db, e: int, attr: str) -> Any:
    """The values of ``attr`` in ``db`` as ops state them: refs as xids, a sorted list."""
    value = db.get(e, attr)
    value = None if value is None else as_xids(store, {attr: value})[attr]
    if ATTRS[attr].many:
        return sorted(value or [])
    return [] if value is None else [value]


def without(entity: dict[str, Any], *attrs: str) -> dict[str, Any]:
    return {a: v for a, v in sorted_values(entity).items() if a not in attrs}


def run_interpose(before: list[list[Op]], op: Interpose, after: list[list[Op]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        for tx_ops in before:
            store.transact(tx_ops)
        old = store.lookup_xid(str(op.e))
        stated = [
            valid
            for (entity, a, _), versions in replay(store).items()
            if entity == old and a == op.attr
            for _, valid, _ in versions
        ]
        report = store.transact([op])
        e = store.lookup_xid(str(op.e))
        assert e is not None
        wanted = sorted(op.values)
        if report is None:  # already true from its moment on
            at = VALID_LATEST if op.valid is None else micros(op.valid)
            assert held(store, store.db().valid_at(at), e, op.attr) == wanted
        else:
            when = micros(report.at if op.valid is None else op.valid)
            bound = min((v for v in stated if v > when), default=VALID_LATEST + 1)
            datoms = replay(store)
            check_views(store, datoms)  # the definition holds, one value at a time
            ids = [i for i in (store.lookup_xid(x) for x in XIDS) if i is not None]
            for valid in sorted({*points(store, datoms), when, bound - 1}):
                now = store.db().valid_at(valid)
                then = store.as_of(store.last_tx - 1).valid_at(valid)
                for i in ids:
                    moved = (op.attr,) if i == e else ()
                    assert without(now.entity(i), "db/xid", *moved) == without(
                        then.entity(i), "db/xid", *moved
                    ), (valid, i)
                expected = wanted if when <= valid < bound else held(store, then, e, op.attr)
                assert held(store, now, e, op.attr) == expected, (valid, when, bound)
        model = present_model(store)
        for tx_ops in after:
            model.existing |= {str(o.e) for o in tx_ops if isinstance(o, Created)}
            model.transact([o for o in tx_ops if not isinstance(o, Created)])
            store.transact(tx_ops)
        check_views(store, replay(store))
        check_present(store, model)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS, interposes(), st.lists(st.lists(ops(), min_size=1, max_size=4), max_size=4))
def test_an_interposed_statement_changes_exactly_its_window(
    before: list[list[Op]], op: Interpose, after: list[list[Op]]
) -> None:
    """Between its moment and the next statement of its attribute, exactly its values;
    everywhere else, and every other fact, as before; later writes work on as usual."""
    run_interpose(before, op, after)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS, interposes(), st.lists(st.lists(ops(), min_size=1, max_size=4), max_size=4))
def test_an_interposed_statement_changes_exactly_its_window_thoroughly(
    before: list[list[Op]], op: Interpose, after: list[list[Op]]
) -> None:
    run_interpose(before, op, after)


def test_a_late_value_lands_between_the_two_around_it() -> None:
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        store.transact([Interpose("aip://e0", "p/name", ["a"], BASE + DAY)])
        store.transact([Interpose("aip://e0", "p/name", ["c"], BASE + 3 * DAY)])
        store.transact([Interpose("aip://e0", "p/name", ["b"], BASE + 2 * DAY)])
        e = store.lookup_xid("aip://e0")
        assert e is not None
        names = [store.valid_at(BASE + k * DAY).get(e, "p/name") for k in (1, 2, 3)]
        assert names == ["a", "b", "c"]
        assert store.db().get(e, "p/name") == "c"
        assert store.transact([Interpose("aip://e0", "p/name", ["b"], BASE + 2 * DAY)]) is None


def test_an_interposed_statement_is_alone_on_its_attribute() -> None:
    with tempfile.TemporaryDirectory() as tmp, a_store(tmp) as store:
        with pytest.raises(SchemaError, match="shares its transaction"):
            store.transact(
                [Interpose("aip://e0", "p/name", ["a"], BASE), Add("aip://e0", "p/name", "b")]
            )
        with pytest.raises(SchemaError, match="different moments"):
            store.transact(
                [
                    Interpose("aip://e0", "p/tags", ["x"], BASE),
                    Interpose("aip://e0", "p/tags", ["y"], BASE + DAY),
                ]
            )
