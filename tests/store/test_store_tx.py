"""Transactions: what ops turn into which datoms, and what a transaction never does."""

from __future__ import annotations

import pytest

from store import Add, Datom, FactStore, Replace, Retract, SchemaError
from store import store as store_module


def datoms_of(report: object) -> set[tuple[str, object, bool]]:
    assert report is not None
    return {(d.a, d.v, d.added) for d in report.datoms}  # type: ignore[attr-defined]


def test_add_creates_entity_with_xid(store: FactStore) -> None:
    report = store.transact([Add("aip://a", "node/name", "a")], {"source": "test"})
    assert report is not None
    e = report.created["aip://a"]
    assert datoms_of(report) == {("db/xid", "aip://a", True), ("node/name", "a", True)}
    assert report.meta == {"source": "test"}
    assert store.db().entity(e) == {"db/xid": "aip://a", "node/name": "a"}
    assert store.db().entid("aip://a") == e


def test_cardinality_one_retracts_the_old_value_in_the_same_tx(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "old")])
    report = store.transact([Add("aip://a", "node/name", "new")])
    assert report is not None
    assert datoms_of(report) == {("node/name", "old", False), ("node/name", "new", True)}
    assert {d.tx for d in report.datoms} == {report.tx}
    assert store.db().get(report.datoms[0].e, "node/name") == "new"


def test_cardinality_one_keeps_the_last_of_several_adds(store: FactStore) -> None:
    report = store.transact([Add("aip://a", "node/size", n) for n in (1, 2, 3)])
    assert report is not None
    assert ("node/size", 3, True) in datoms_of(report)
    assert not {("node/size", 1, True), ("node/size", 2, True)} & datoms_of(report)


def test_asserting_a_true_value_adds_nothing(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a"), Add("aip://a", "node/tags", "x")])
    report = store.transact(
        [
            Add("aip://a", "node/name", "a"),
            Add("aip://a", "node/tags", "x"),
            Add("aip://a", "node/tags", "y"),
        ]
    )
    assert datoms_of(report) == {("node/tags", "y", True)}


def test_a_tx_that_changes_nothing_writes_nothing(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a")])
    last_tx, keys = store.last_tx, list(store.index_keys(b"L"))
    assert store.transact([Add("aip://a", "node/name", "a")]) is None
    assert store.transact([Retract("aip://a", "node/name", "other")]) is None
    assert store.transact([]) is None
    assert store.transact([Add("aip://a", "node/tags", "t")]) is not None
    assert store.last_tx == last_tx + 1
    assert len(list(store.index_keys(b"L"))) == len(keys) + 1


def test_add_then_retract_in_one_tx_nets_to_nothing(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a")])
    last = store.last_tx
    ops = [Add("aip://a", "node/tags", "t"), Retract("aip://a", "node/tags", "t")]
    assert store.transact(ops) is None
    assert store.last_tx == last


def test_replace_makes_exactly_the_given_values_true(store: FactStore) -> None:
    report = store.transact([Add("aip://a", "node/tags", t) for t in ("x", "y", "z")])
    assert report is not None
    e = report.created["aip://a"]
    report = store.transact([Replace("aip://a", "node/tags", ["y", "w"])])
    assert datoms_of(report) == {
        ("node/tags", "x", False),
        ("node/tags", "z", False),
        ("node/tags", "w", True),
    }
    assert sorted(store.db().get(e, "node/tags")) == ["w", "y"]
    assert store.transact([Replace("aip://a", "node/tags", ["w", "y"])]) is None
    assert datoms_of(store.transact([Replace("aip://a", "node/tags", [])])) == {
        ("node/tags", "w", False),
        ("node/tags", "y", False),
    }


def test_replace_cardinality_one(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a")])
    assert datoms_of(store.transact([Replace("aip://a", "node/name", ["b"])])) == {
        ("node/name", "a", False),
        ("node/name", "b", True),
    }
    assert datoms_of(store.transact([Replace("aip://a", "node/name", [])])) == {
        ("node/name", "b", False)
    }
    with pytest.raises(SchemaError, match="cardinality one"):
        store.transact([Replace("aip://a", "node/name", ["x", "y"])])


def test_refs_to_unknown_xids_create_entities(store: FactStore) -> None:
    report = store.transact(
        [
            Add("aip://child", "node/upstream", "aip://p1"),
            Add("aip://child", "node/owner", "aip://o"),
        ]
    )
    assert report is not None
    assert set(report.created) == {"aip://child", "aip://p1", "aip://o"}
    db = store.db()
    child = report.created["aip://child"]
    assert db.get(child, "node/upstream") == [report.created["aip://p1"]]
    assert db.get(child, "node/owner") == report.created["aip://o"]
    assert db.exists(report.created["aip://p1"])
    assert db.entity(report.created["aip://p1"]) == {"db/xid": "aip://p1"}


def test_refs_by_id_and_by_xid_are_the_same_value(store: FactStore) -> None:
    report = store.transact([Add("aip://a", "node/name", "a"), Add("aip://b", "node/name", "b")])
    assert report is not None
    b = report.created["aip://b"]
    store.transact([Add("aip://a", "node/upstream", b)])
    assert store.transact([Add("aip://a", "node/upstream", "aip://b")]) is None
    assert datoms_of(store.transact([Retract("aip://a", "node/upstream", "aip://b")])) == {
        ("node/upstream", b, False)
    }


def test_retract_of_unknown_is_a_no_op(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a")])
    last = store.last_tx
    assert store.transact([Retract("aip://nobody", "node/name", "a")]) is None
    assert store.transact([Retract("aip://a", "node/upstream", "aip://nobody")]) is None
    assert store.transact([Retract("aip://a", "node/name", "not-a")]) is None
    assert store.last_tx == last
    assert store.lookup_xid("aip://nobody") is None


def test_tx_ids_strictly_increase(store: FactStore) -> None:
    txs = [store.transact([Add("aip://a", "node/size", n)]) for n in range(5)]
    ids = [r.tx for r in txs if r is not None]
    assert ids == list(range(ids[0], ids[0] + 5))
    assert store.last_tx == ids[-1]


def test_instants_never_go_backwards(store: FactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([1_000.0, 900.0, 900.0, 2_000.0])
    monkeypatch.setattr(store_module.time, "time", lambda: next(clock))
    reports = [store.transact([Add("aip://a", "node/size", n)]) for n in range(4)]
    instants = [r.at for r in reports if r is not None]
    assert instants == sorted(instants)
    assert len(set(instants)) == 4
    assert instants[0].timestamp() == 1_000.0
    assert instants[3].timestamp() == 2_000.0
    assert [store.instant_of(r.tx) for r in reports if r is not None] == instants


def test_bad_ops_raise_and_write_nothing(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a")])
    last = store.last_tx
    with pytest.raises(SchemaError, match="unknown attribute"):
        store.transact([Add("aip://a", "node/nope", 1)])
    with pytest.raises(SchemaError, match="never changes"):
        store.transact([Add("aip://a", "db/xid", "aip://b")])
    with pytest.raises(SchemaError, match="not a valid int"):
        store.transact([Add("aip://new", "node/name", "n"), Add("aip://new", "node/size", "1")])
    with pytest.raises(SchemaError, match="unknown entity id"):
        store.transact([Add(10_000, "node/name", "x")])
    with pytest.raises(SchemaError, match="unknown entity id"):
        store.transact([Add("aip://a", "node/owner", 10_000)])
    with pytest.raises(SchemaError, match="a ref must be"):
        store.transact([Add("aip://a", "node/owner", 1.5)])
    with pytest.raises(SchemaError, match="JSON"):
        store.transact([Add("aip://a", "node/size", 1)], {"bad": object()})
    assert store.last_tx == last
    assert store.lookup_xid("aip://new") is None


def test_report_and_log_agree(store: FactStore) -> None:
    report = store.transact(
        [Add("aip://a", "node/name", "a"), Add("aip://a", "node/config", {"k": [1]})],
        {"why": "test"},
    )
    assert report is not None
    logged = store.transaction(report.tx)
    assert logged is not None
    assert logged.datoms == report.datoms
    assert logged.meta == {"why": "test"}
    assert logged.at == report.at
    assert [r.tx for r in store.log()] == [report.tx]
    assert store.transaction(report.tx + 1) is None
    assert all(isinstance(d, Datom) for d in logged.datoms)


def test_log_range(store: FactStore) -> None:
    for n in range(4):
        store.transact([Add("aip://a", "node/size", n)])
    assert [r.tx for r in store.log(2, 4)] == [2, 3]
    assert [r.tx for r in store.log(3)] == [3, 4]
