"""A store that replays another's log answers every read as that one does.

Random transactions (corrections, moved creations and interposed statements included) go
into a primary; a replica whose attributes were installed in another order, so that their
ids differ, replays the primary's log. Every view on both axes, every entity's history and
the log itself are then the same. A redelivered transaction changes nothing, and one that
skips another is refused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bitemporal import TRANSACTIONS, check_history, check_views, interposes, replay
from test_properties import ATTRS

from store import Add, FactStore, Interpose, Op, ReplayGap


def follow(primary: FactStore, replica: FactStore) -> int:
    """Replay the primary's log into the replica, each transaction with the definitions
    of the attributes it names; how many were new."""
    applied = 0
    for report in primary.log(replica.last_tx + 1):
        named = [primary.attribute(name) for name in {d.a for d in report.datoms}]
        applied += replica.replay(report, named)
    return applied


def run(transactions: list[list[Op]], interposed: Interpose | None) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        FactStore(Path(tmp) / "primary") as primary,
        FactStore(Path(tmp) / "replica") as replica,
    ):
        primary.install(ATTRS.values())
        replica.install(list(ATTRS.values())[::-1])  # other ids for the same attributes
        for ops in transactions:
            primary.transact(ops)
        if interposed is not None:
            primary.transact([interposed])
        assert follow(primary, replica) == primary.last_tx
        datoms = replay(primary)
        assert replay(replica) == datoms
        check_views(replica, datoms)
        check_history(replica, datoms)
        assert replica.last_at == primary.last_at
        assert replica.earliest_valid() == primary.earliest_valid()
        assert all(replica.replay(r) is False for r in primary.log(1))  # redelivered


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS, st.none() | interposes())
def test_a_replica_answers_every_view_as_its_primary(
    transactions: list[list[Op]], interposed: Interpose | None
) -> None:
    run(transactions, interposed)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRANSACTIONS, st.none() | interposes())
def test_a_replica_answers_every_view_as_its_primary_thoroughly(
    transactions: list[list[Op]], interposed: Interpose | None
) -> None:
    run(transactions, interposed)


def test_a_replica_learns_attributes_from_the_log_and_refuses_a_gap(tmp_path: Path) -> None:
    with FactStore(tmp_path / "primary") as primary, FactStore(tmp_path / "replica") as replica:
        primary.install(ATTRS.values())
        for name in ("a", "b", "c"):
            primary.transact([Add("aip://e0", "p/name", name)])
        first, _, third = list(primary.log(1))
        assert replica.replay(first, [primary.attribute("p/name")])
        assert replica.db().entity(replica.lookup_xid("aip://e0") or 0)["p/name"] == "a"
        with pytest.raises(ReplayGap, match="ends at 1"):
            replica.replay(third)
