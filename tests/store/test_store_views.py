"""Views and reads: as-of, since, history, pull, traverse, lookup, entities_with."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store import Add, Attribute, FactStore, Replace, Retract, SchemaError, ValueType


def ids(store: FactStore, *xids: str) -> list[int]:
    found = [store.lookup_xid(x) for x in xids]
    assert None not in found
    return found  # type: ignore[return-value]


@pytest.fixture
def chain(store: FactStore) -> FactStore:
    """a <- b <- c <- d through node/upstream (tx 1), then d re-parented onto a (tx 2)."""
    store.transact(
        [
            Add("aip://a", "node/name", "a"),
            Add("aip://b", "node/upstream", "aip://a"),
            Add("aip://c", "node/upstream", "aip://b"),
            Add("aip://d", "node/upstream", "aip://c"),
        ],
        {"step": 1},
    )
    store.transact(
        [Replace("aip://d", "node/upstream", ["aip://a"]), Add("aip://a", "node/name", "A")],
        {"step": 2},
    )
    return store


def test_as_of_by_tx(chain: FactStore) -> None:
    a, _, c, d = ids(chain, "aip://a", "aip://b", "aip://c", "aip://d")
    old, new = chain.as_of(1), chain.db()
    assert old.get(a, "node/name") == "a"
    assert new.get(a, "node/name") == "A"
    assert old.get(d, "node/upstream") == [c]
    assert new.get(d, "node/upstream") == [a]
    assert chain.as_of(0).entity(a) == {}
    assert not chain.as_of(0).exists(a)
    assert chain.as_of(99).basis_tx == chain.last_tx  # clamped to the view's basis


def test_as_of_by_datetime(chain: FactStore) -> None:
    a = ids(chain, "aip://a")[0]
    first, second = chain.instant_of(1), chain.instant_of(2)
    assert first is not None and second is not None and first < second
    assert chain.as_of(first).basis_tx == 1
    assert chain.as_of(second - timedelta(microseconds=1)).basis_tx == 1
    assert chain.as_of(second).get(a, "node/name") == "A"
    assert chain.as_of(first - timedelta(seconds=1)).basis_tx == 0
    assert chain.tx_at(first - timedelta(days=365 * 100)) == 0


def test_since_sees_only_later_assertions(chain: FactStore) -> None:
    a, d = ids(chain, "aip://a", "aip://d")
    later = chain.since(1)
    assert later.entity(a) == {"node/name": "A"}
    assert later.get(d, "node/upstream") == [a]
    assert chain.since(2).entity(a) == {}
    assert chain.as_of(1).since(1).entity(a) == {}


def test_a_view_never_sees_later_writes(chain: FactStore) -> None:
    a = ids(chain, "aip://a")[0]
    view = chain.db()
    chain.transact([Add("aip://a", "node/name", "later")])
    assert view.get(a, "node/name") == "A"
    assert chain.db().get(a, "node/name") == "later"


def test_history_is_oldest_first_with_meta(chain: FactStore) -> None:
    a, c, d = ids(chain, "aip://a", "aip://c", "aip://d")
    steps = chain.history(d)
    assert [s.tx for s in steps] == [1, 2]
    assert [s.meta for s in steps] == [{"step": 1}, {"step": 2}]
    assert steps[0].at < steps[1].at
    assert {(x.a, x.v, x.added) for x in steps[1].datoms} == {
        ("node/upstream", c, False),
        ("node/upstream", a, True),
    }
    assert [x.added for x in steps[1].datoms] == [False, True]  # retractions first
    assert chain.history(999) == []


def test_identity(chain: FactStore) -> None:
    a = ids(chain, "aip://a")[0]
    db = chain.db()
    assert db.xid(a) == "aip://a"
    assert db.entid("aip://a") == a
    assert db.entid("aip://nobody") is None
    assert db.xid(999) is None
    assert not db.exists(999)
    chain.drop_caches()
    assert db.xid(a) == "aip://a"  # from RocksDB this time


def test_pull_depth_and_incoming(chain: FactStore) -> None:
    a, b, c, d = ids(chain, "aip://a", "aip://b", "aip://c", "aip://d")
    pulled = chain.db().pull(c)
    assert pulled == {
        "db/id": c,
        "db/xid": "aip://c",
        "node/upstream": [{"db/id": b, "db/xid": "aip://b"}],
        "_in": {},
    }
    deep = chain.as_of(1).pull(d, depth=2)
    assert deep["node/upstream"][0]["node/upstream"][0]["db/id"] == b
    assert deep["node/upstream"][0]["node/upstream"][0]["node/upstream"] == [
        {"db/id": a, "db/xid": "aip://a"}
    ]
    assert chain.as_of(1).pull(b)["_in"] == {"node/upstream": ["aip://c"]}
    assert sorted(chain.db().pull(a)["_in"]["node/upstream"]) == ["aip://b", "aip://d"]
    assert "_in" not in chain.db().pull(a, reverse=False)


def test_refs_out_and_in(chain: FactStore) -> None:
    a, b, c, d = ids(chain, "aip://a", "aip://b", "aip://c", "aip://d")
    db = chain.db()
    assert db.refs_out(d) == [("node/upstream", a)]
    assert chain.as_of(1).refs_out(d) == [("node/upstream", c)]
    assert sorted(db.refs_in(a)) == [("node/upstream", b), ("node/upstream", d)]
    assert db.refs_in(a, ["node/owner"]) == []
    assert db.refs_in(c) == []
    assert chain.as_of(1).refs_in(c) == [("node/upstream", d)]


def test_traverse_depth_limits_and_orientations(chain: FactStore) -> None:
    a, b, c, d = ids(chain, "aip://a", "aip://b", "aip://c", "aip://d")
    old = chain.as_of(1)
    up = [("node/upstream", "out")]
    down = [("node/upstream", "in")]
    assert old.traverse([d], up, 1).depth == {d: 0, c: 1}
    assert old.traverse([d], up, 3).depth == {d: 0, c: 1, b: 2, a: 3}
    assert old.traverse([d], up, 0).depth == {d: 0}
    assert old.traverse([a], down, 6).depth == {a: 0, b: 1, c: 2, d: 3}
    # The current view: d now hangs off a directly.
    assert chain.db().traverse([d], up, 6).depth == {d: 0, a: 1}
    assert chain.db().traverse([a], down, 6).depth == {a: 0, b: 1, d: 1, c: 2}
    both = old.traverse([b], [("node/upstream", "out"), ("node/upstream", "in")], 1)
    assert both.depth == {b: 0, a: 1, c: 1}


def test_traverse_edges_parents_and_paths(chain: FactStore) -> None:
    a, b, c, d = ids(chain, "aip://a", "aip://b", "aip://c", "aip://d")
    walked = chain.as_of(1).traverse([a], [("node/upstream", "in")], 6)
    assert walked.edges == [
        (b, "node/upstream", a),
        (c, "node/upstream", b),
        (d, "node/upstream", c),
    ]
    assert walked.parent[d] == (c, "node/upstream", "in")
    assert walked.path_to(d) == [
        (a, "node/upstream", "in"),
        (b, "node/upstream", "in"),
        (c, "node/upstream", "in"),
    ]
    assert walked.path_to(a) == []
    # Both ways: each edge once, though the walk meets it from both ends.
    both = chain.as_of(1).traverse([b], [("node/upstream", "out"), ("node/upstream", "in")], 6)
    assert sorted(both.edges) == sorted(walked.edges)


def test_traverse_max_nodes(chain: FactStore) -> None:
    a = ids(chain, "aip://a")[0]
    walked = chain.as_of(1).traverse([a], [("node/upstream", "in")], 6, max_nodes=2)
    assert walked.truncated
    assert len(walked.depth) == 2
    assert not chain.as_of(1).traverse([a], [("node/upstream", "in")], 6).truncated


def test_traverse_rejects_bad_steps(chain: FactStore) -> None:
    a = ids(chain, "aip://a")[0]
    with pytest.raises(SchemaError, match="not a ref"):
        chain.db().traverse([a], [("node/name", "out")], 2)
    with pytest.raises(ValueError, match="orientation"):
        chain.db().traverse([a], [("node/upstream", "up")], 2)  # type: ignore[list-item]


def test_traverse_as_of_sees_retracted_then_reasserted_edges(store: FactStore) -> None:
    store.transact([Add("aip://x", "node/upstream", "aip://y")])  # tx 1
    store.transact([Retract("aip://x", "node/upstream", "aip://y")])  # tx 2
    store.transact([Add("aip://x", "node/upstream", "aip://y")])  # tx 3
    x, y = ids(store, "aip://x", "aip://y")
    up = [("node/upstream", "out")]
    assert [set(store.as_of(t).traverse([x], up, 1).depth) for t in (1, 2, 3)] == [
        {x, y},
        {x},
        {x, y},
    ]
    assert store.since(2).traverse([x], up, 1).depth == {x: 0, y: 1}
    assert store.as_of(2).since(0).refs_in(y) == []


def test_lookup_uses_avet(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "same"), Add("aip://b", "node/name", "same")])
    a, b = ids(store, "aip://a", "aip://b")
    assert store.db().lookup("node/name", "same") == [a, b]
    store.transact([Add("aip://a", "node/name", "other")])
    assert store.db().lookup("node/name", "same") == [b]
    assert store.as_of(1).lookup("node/name", "same") == [a, b]
    assert store.db().lookup("node/name", "nothing") == []
    assert store.db().lookup("db/xid", "aip://a") == [a]
    with pytest.raises(SchemaError, match="not indexed"):
        store.db().lookup("node/size", 1)


def test_lookup_of_an_indexed_ref(store: FactStore) -> None:
    store.install([Attribute("node/team", ValueType.REF, indexed=True)])
    store.transact([Add("aip://a", "node/team", "aip://t"), Add("aip://b", "node/team", "aip://t")])
    a, b, t = ids(store, "aip://a", "aip://b", "aip://t")
    assert store.db().lookup("node/team", t) == [a, b]
    assert store.db().lookup("node/team", "aip://t") == [a, b]
    assert store.db().lookup("node/team", "aip://nobody") == []


def test_entities_with_uses_aevt(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/size", 1), Add("aip://b", "node/size", 2)])
    store.transact([Add("aip://a", "node/size", 3), Add("aip://c", "node/name", "c")])
    a, b = ids(store, "aip://a", "aip://b")
    assert list(store.db().entities_with("node/size")) == [(a, 3), (b, 2)]
    assert list(store.as_of(1).entities_with("node/size")) == [(a, 1), (b, 2)]
    assert list(store.since(1).entities_with("node/size")) == [(a, 3)]


def test_entity_datoms_and_many_values(store: FactStore) -> None:
    report = store.transact(
        [
            Add("aip://a", "node/tags", "y"),
            Add("aip://a", "node/tags", "x"),
            Add("aip://a", "node/score", 0.5),
        ]
    )
    assert report is not None
    a = report.created["aip://a"]
    db = store.db()
    assert db.entity(a) == {"db/xid": "aip://a", "node/tags": ["x", "y"], "node/score": 0.5}
    assert db.get(a, "node/size") is None
    assert db.get(a, "node/upstream") == []
    assert {(d.a, d.v, d.tx) for d in db.datoms(a)} == {
        ("db/xid", "aip://a", 1),
        ("node/tags", "x", 1),
        ("node/tags", "y", 1),
        ("node/score", 0.5, 1),
    }
