"""Property tests of the first-touch read paths: each equals the path it shortcuts.

On random logs over both time axes (``test_bitemporal``'s transactions: valid times,
corrections, retractions, ``Created`` moves): the fast decoding of reverse references equals
the general one; an answer's ``Reads`` (one shared iterator) decode what the store's own
per-entity scans decode; a ``reading`` view answers as the plain view at every point of
both axes; ``Db.values`` equals one ``get`` per attribute.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_bitemporal import BASE, TRANSACTIONS
from test_properties import ATTRS, XIDS

from store import Add, Db, FactStore, Op, Retract, codec
from store.codec import U64
from store.intervals import EntityIntervals, _links_with_history, links_from_vaet

MOMENTS = [None, *(BASE + timedelta(days=k) for k in range(-1, 10, 3))]
STEPS = [("p/links", "out"), ("p/owner", "out"), ("p/links", "in"), ("p/owner", "in")]


def decoded(entity: EntityIntervals) -> tuple[Any, ...]:
    return (entity.facts, entity.xid, entity.created, entity.refs, entity.lives, entity.tops)


def views(store: FactStore) -> list[Db]:
    return [store.as_of(t).valid_at(moment) for t in range(store.last_tx + 1) for moment in MOMENTS]


def answers(db: Db, e: int) -> tuple[Any, ...]:
    walked = db.traverse([e], STEPS, 3)
    return (
        db.entity(e),
        db.exists(e),
        db.pull(e, depth=1),
        sorted(db.refs_in(e)),
        sorted(db.refs_out(e)),
        walked.depth,
        walked.edges,
        db.values(e, sorted(ATTRS)),
    )


def check(store: FactStore) -> None:
    ids = [e for e in map(store.lookup_xid, XIDS) if e is not None]
    for e in ids:
        items = store.scan_items(codec.VAET + U64.pack(e))
        assert links_from_vaet(items) == _links_with_history(items)
    store.drop_caches()
    reads = store.reading()
    fresh = {e: (decoded(reads.entity_of(e)), reads.links_to(e)) for e in ids}
    store.drop_caches()
    assert fresh == {e: (decoded(store.entity_of(e)), store.links_to(e)) for e in ids}
    for db in views(store):
        for e in ids:
            store.drop_caches()
            first = answers(db.reading(), e)
            assert first == answers(db, e)
            assert first[-1] == [db.get(e, attr) for attr in sorted(ATTRS)]


def run_sequence(transactions: list[list[Op]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, FactStore(Path(tmp) / "facts") as store:
        store.install(ATTRS.values())
        for tx_ops in transactions:
            store.transact(tx_ops)
        check(store)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS)
def test_first_touch_paths_match_the_general_ones(transactions: list[list[Op]]) -> None:
    run_sequence(transactions)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS)
def test_first_touch_paths_match_the_general_ones_thoroughly(
    transactions: list[list[Op]],
) -> None:
    run_sequence(transactions)


def test_reads_do_not_keep_what_a_later_write_changed(tmp_path: Path) -> None:
    """An answer's iterator is a snapshot: after a write lands, what it decodes is not
    cached, so the next answer sees the write."""
    with FactStore(tmp_path / "facts") as store:
        store.install(ATTRS.values())
        store.transact([Add("aip://a", "p/links", "aip://b")])
        a, b = store.lookup_xid("aip://a"), store.lookup_xid("aip://b")
        assert a is not None and b is not None
        store.drop_caches()
        reads = store.reading()
        assert list(reads.links_to(a)) == []  # the iterator is made here
        store.transact([Retract("aip://a", "p/links", "aip://b")])
        assert a in reads.links_to(b)[store.attr_id("p/links")][0]  # its own snapshot
        assert store.db().refs_in(b) == []
