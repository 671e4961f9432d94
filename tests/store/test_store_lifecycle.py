"""Schema, caches, and the store's life: reopen, checkpoint, secondary, rebuild, close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from store_support import INDEX_PREFIXES, SCHEMA, answers

from store import (
    Add,
    Attribute,
    Cardinality,
    FactStore,
    Retract,
    SchemaError,
    StoreClosed,
    ValueType,
)
from store.intervals import IntervalCache


def populate(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/name", "a"), Add("aip://b", "node/upstream", "aip://a")])
    store.transact([Add("aip://a", "node/name", "a2"), Add("aip://c", "node/upstream", "aip://b")])
    store.transact([Retract("aip://b", "node/upstream", "aip://a")])


# -- schema ------------------------------------------------------------------------------


def test_incompatible_redefinition_raises(store: FactStore) -> None:
    with pytest.raises(SchemaError, match="cannot redefine"):
        store.install([Attribute("node/name", ValueType.INT, indexed=True)])
    with pytest.raises(SchemaError, match="cannot redefine"):
        store.install([Attribute("node/name", ValueType.STRING, Cardinality.MANY)])
    with pytest.raises(SchemaError, match="cannot redefine"):
        store.install([Attribute("node/name", ValueType.STRING, unique=True)])
    assert store.attribute("node/name") == SCHEMA[0]


def test_reinstall_is_idempotent_and_reopen_keeps_ids(store: FactStore, store_path: Path) -> None:
    before = {a.name: store.attr_id(a.name) for a in store.attributes}
    store.install(SCHEMA)
    store.install([Attribute("node/extra", ValueType.BOOL)])
    populate(store)
    store.close()
    with FactStore(store_path) as reopened:
        assert {a.name: reopened.attr_id(a.name) for a in SCHEMA} == {
            a.name: before[a.name] for a in SCHEMA
        }
        assert reopened.attribute("node/extra").value_type is ValueType.BOOL
        assert reopened.attr_id("node/extra") not in before.values()
        with pytest.raises(SchemaError, match="unknown attribute"):
            reopened.attribute("node/nope")


def test_turning_indexed_on_and_off_rewrites_avet(store: FactStore) -> None:
    store.transact([Add("aip://a", "node/size", 5), Add("aip://b", "node/size", 5)])
    with pytest.raises(SchemaError, match="not indexed"):
        store.db().lookup("node/size", 5)
    store.install([Attribute("node/size", ValueType.INT, indexed=True, doc="now indexed")])
    a, b = store.lookup_xid("aip://a"), store.lookup_xid("aip://b")
    assert store.db().lookup("node/size", 5) == [a, b]
    rebuilt = {p: list(store.index_keys(p)) for p in INDEX_PREFIXES}
    store.rebuild_indexes()
    assert {p: list(store.index_keys(p)) for p in INDEX_PREFIXES} == rebuilt
    store.install([Attribute("node/size", ValueType.INT)])
    size = store.attr_id("node/size").to_bytes(4, "big")
    assert list(store.index_keys(b"V" + size)) == []


def test_a_secondary_cannot_write(store: FactStore, store_path: Path, tmp_path: Path) -> None:
    populate(store)
    follower = FactStore(store_path, secondary=tmp_path / "follower")
    try:
        with pytest.raises(SchemaError):
            follower.transact([Add("aip://a", "node/name", "x")])
        with pytest.raises(SchemaError):
            follower.install([Attribute("node/other", ValueType.INT)])
    finally:
        follower.close()


# -- the interval cache ----------------------------------------------------------------------


def test_reads_never_see_stale_cache_after_a_write(store: FactStore) -> None:
    populate(store)
    a, b = store.lookup_xid("aip://a"), store.lookup_xid("aip://b")
    assert a is not None and b is not None
    db = store.db()
    assert db.get(a, "node/name") == "a2"
    assert db.refs_in(a) == []
    store.transact([Add("aip://a", "node/name", "a3"), Add("aip://b", "node/upstream", a)])
    assert store.db().get(a, "node/name") == "a3"
    assert store.db().refs_in(a) == [("node/upstream", b)]
    assert store.db().traverse([b], [("node/upstream", "out")], 1).depth == {b: 0, a: 1}


def test_generation_guard_drops_a_fill_that_raced_a_write() -> None:
    cache = IntervalCache(10)
    generation = cache.generation()  # a reader starts a fill...
    cache.invalidate([1])  # ...a write lands and drops entity 1...
    cache.put(1, "stale", generation)  # ...the reader's fill must not be kept
    assert cache.get(1) is None
    cache.put(1, "fresh", cache.generation())
    assert cache.get(1) == "fresh"
    cache.clear()
    assert cache.get(1) is None


def test_the_interval_cache_never_holds_more_than_its_bound() -> None:
    cache = IntervalCache(100)
    for key in range(10_000):
        cache.put(key, "intervals", cache.generation())
        assert len(cache) <= 100
    assert cache.get(9_999) == "intervals" and cache.get(0) is None


def test_the_store_caches_are_sized_as_asked(tmp_path: Path) -> None:
    with FactStore(tmp_path / "small", cache_entries=2, xid_entries=3) as small:
        small.install(SCHEMA)
        small.transact([Add(f"aip://{n}", "node/upstream", "aip://hub") for n in range(10)])
        for n in range(10):
            e = small.lookup_xid(f"aip://{n}")
            assert e is not None
            small.entity_of(e)
            small.links_to(e)
        assert len(small.entity_cache) <= 2 and len(small.links_cache) <= 2
        assert len(small._xids) <= 3 and len(small._xid_of) <= 3


def test_a_fill_racing_a_write_is_not_cached(store: FactStore, monkeypatch: Any) -> None:
    populate(store)
    a = store.lookup_xid("aip://a")
    assert a is not None
    store.drop_caches()
    real_scan = store.scan_items
    raced = []

    def scan_then_write(prefix: bytes) -> list[tuple[bytes, bytes]]:
        items = real_scan(prefix)  # the reader's keys, taken before the write below
        if not raced:
            raced.append(prefix)
            store.transact([Add("aip://a", "node/name", "raced")])
        return items

    monkeypatch.setattr(store, "scan_items", scan_then_write)
    assert store.as_of(3).get(a, "node/name") == "a2"  # the stale fill answers its own read
    monkeypatch.setattr(store, "scan_items", real_scan)
    assert store.db().get(a, "node/name") == "raced"


def test_cache_is_bounded() -> None:
    cache = IntervalCache(10)
    for key in range(25):
        cache.put(key, key, cache.generation())
    assert len(cache) <= 10
    assert cache.get(24) == 24


def test_small_cache_gives_the_same_answers(store_path: Path, tmp_path: Path) -> None:
    with FactStore(store_path) as big:
        big.install(SCHEMA)
        populate(big)
        expected = answers(big)
    with FactStore(store_path, cache_entries=1) as small:
        assert answers(small) == expected


# -- lifecycle -------------------------------------------------------------------------------


def test_close_and_reopen_give_the_same_answers(store: FactStore, store_path: Path) -> None:
    populate(store)
    expected = answers(store)
    store.close()
    with FactStore(store_path) as reopened:
        assert answers(reopened) == expected
        assert reopened.last_tx == 3
        report = reopened.transact([Add("aip://d", "node/name", "d")])
        assert report is not None and report.tx == 4
        assert report.created["aip://d"] == max(e for e in expected["ids"].values() if e) + 1


def test_closed_store_raises(store: FactStore) -> None:
    populate(store)
    a = store.lookup_xid("aip://a")
    assert a is not None
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosed):
        store.db().entity(a)
    with pytest.raises(StoreClosed):
        store.transact([Add("aip://a", "node/name", "x")])
    with pytest.raises(StoreClosed):
        list(store.log())


def test_checkpoint_opens_and_reads_the_same(store: FactStore, tmp_path: Path) -> None:
    populate(store)
    store.checkpoint(tmp_path / "copy")
    store.transact([Add("aip://a", "node/name", "after the checkpoint")])
    with FactStore(tmp_path / "copy") as copy:
        assert copy.last_tx == 3
        assert answers(copy) == answers(store, basis=3)


def test_secondary_follows_primary_after_catch_up(
    store: FactStore, store_path: Path, tmp_path: Path
) -> None:
    populate(store)
    follower = FactStore(store_path, secondary=tmp_path / "follower")
    try:
        assert answers(follower) == answers(store)
        store.transact([Add("aip://a", "node/name", "new"), Add("aip://e", "node/size", 1)])
        assert follower.last_tx == 3
        follower.catch_up()
        assert follower.last_tx == 4
        assert answers(follower) == answers(store)
        assert follower.db().get(follower.lookup_xid("aip://a") or 0, "node/name") == "new"
    finally:
        follower.close()


def test_a_follower_forgets_only_what_the_writes_it_catches_up_on_touched(
    store: FactStore, store_path: Path, tmp_path: Path
) -> None:
    populate(store)
    follower = FactStore(store_path, secondary=tmp_path / "follower")
    try:
        a, b, c = (follower.lookup_xid(x) or 0 for x in ("aip://a", "aip://b", "aip://c"))
        for e in (a, b, c):
            follower.entity_of(e)
            follower.links_to(e)
        kept = follower.entity_of(c)
        store.transact([Add("aip://a", "node/name", "new"), Add("aip://b", "node/upstream", a)])
        follower.catch_up()
        assert follower.entity_cache.get(c) is kept  # untouched: still decoded
        assert follower.entity_cache.get(a) is None and follower.entity_cache.get(b) is None
        assert follower.links_cache.get(a) is None  # a new reference points at it
        assert follower.db().get(a, "node/name") == "new"
        assert ("node/upstream", b) in follower.db().refs_in(a)
        assert answers(follower) == answers(store)
    finally:
        follower.close()


def test_rebuild_indexes_is_byte_identical(store: FactStore) -> None:
    populate(store)
    before = {p: list(store.index_keys(p)) for p in INDEX_PREFIXES}
    expected = answers(store)
    assert store.rebuild_indexes() == 3
    assert {p: list(store.index_keys(p)) for p in INDEX_PREFIXES} == before
    assert answers(store) == expected


def test_scans_see_every_key_written_in_this_process(store: FactStore) -> None:
    """Regression: an iterator borrows its ReadOptions' upper bound, which must outlive it."""
    for n in range(50):
        store.transact([Add("aip://a", "node/size", n)])
    assert len(list(store.index_keys(b"L"))) == 50
    a = store.lookup_xid("aip://a")
    assert a is not None
    assert len(store.history(a)) == 50


def test_opening_an_older_layout_rebuilds_its_indexes(store: FactStore, store_path: Path) -> None:
    populate(store)
    expected = answers(store)
    # The first layout had no xid keyspace and no format marker.
    store._rdb.delete_range(b"X", b"Y")
    store._rdb.delete(b"Mformat")
    store.close()
    with FactStore(store_path) as upgraded:
        assert upgraded.lookup_xid("aip://a") is not None
        assert answers(upgraded) == expected
        assert upgraded._meta_int("format") == 3
