"""The read side at its edges (contract 2.2, 2.3): every ``--as-of`` form, empty and
filter-only searches, lineage from every kind and at depth 0, history as of a moment, and
how ``mds`` finds (or fails to find) the daemon."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mds.testing import CliResult
from tests.conformance.expect import ENTITY_TYPE, graph, kind_of, uri
from tests.conformance.harness import Harness
from tests.conformance.org import MODEL, RAW, UNANNOUNCED, V5

pytestmark = pytest.mark.slow

CONTEXT_KINDS = {"user", "team"}


def ids(doc: dict[str, object], key: str = "results") -> set[str]:
    return {str(item["id"]) for item in doc[key]}  # type: ignore[attr-defined]


# -- --as-of WHEN ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        datetime.now(UTC).date().isoformat(),  # a date means its end: everything so far
        "2099-01-01T00:00:00Z",  # the future: the graph as it is now
        "2099-01-01t00:00:00+02:00",
        "0s",
        "now",
        "tx:100000",  # past the last transaction: the latest view, as Datomic's as-of
    ],
)
def test_as_of_a_moment_after_everything_is_the_current_view(loaded: Harness, when: str) -> None:
    page = loaded.show(V5, "--as-of", when)
    assert page["status"] == "resolved"
    assert page["relationships"] == loaded.show(V5)["relationships"]


@pytest.mark.parametrize("when", ["tx:0", "3d", "2h", "1w", "2000-01-01", "1999-12-31T23:59:59Z"])
def test_known_at_a_moment_before_mds_recorded_anything_exits_1(
    loaded: Harness, when: str
) -> None:
    """The organisation was loaded moments ago: days back, mds knew nothing yet."""
    for args in (("show", V5), ("lineage", V5), ("impact", RAW), ("history", V5)):
        answer = loaded.mds(*args, "--known-at", when)
        assert answer.code == 1, f"mds {' '.join(args)} --known-at {when}: {answer}"
        assert answer.out == "" and answer.err.strip(), answer


@pytest.mark.parametrize("when", ["tx:0", "2000-01-01", "1999-12-31T23:59:59Z"])
def test_as_of_a_moment_before_anything_existed_exits_1(loaded: Harness, when: str) -> None:
    """Valid time: the sources date everything in 2024-2025, so in 2000 nothing existed."""
    for args in (("show", V5), ("lineage", V5), ("impact", RAW), ("history", V5)):
        answer = loaded.mds(*args, "--as-of", when)
        assert answer.code == 1, f"mds {' '.join(args)} --as-of {when}: {answer}"
        assert answer.out == "" and answer.err.strip(), answer


@pytest.mark.parametrize("when", ["yesterday", "tx:", "tx:-1", "3 days", "2025-13-01", ""])
def test_as_of_that_names_no_moment_is_bad_usage(loaded: Harness, when: str) -> None:
    for args in (("show", V5), ("search", "ranking"), ("history", V5)):
        answer = loaded.mds(*args, "--as-of", when)
        assert answer.code == 2, f"mds {' '.join(args)} --as-of {when!r}: {answer}"
        assert answer.out == "" and "as-of" in answer.err, answer


def test_history_as_of_a_transaction_stops_there(loaded: Harness) -> None:
    whole = loaded.ok("history", V5)["transactions"]
    assert len(whole) >= 2, "hydration and enrichment each wrote the instance"
    first = whole[0]["tx"]
    then = loaded.ok("history", V5, "--as-of", f"tx:{first}")
    assert then["id"] == V5
    assert [t["tx"] for t in then["transactions"]] == [first]
    at = loaded.ok("history", V5, "--as-of", whole[0]["at"])
    assert [t["tx"] for t in at["transactions"]] == [first]
    assert loaded.mds("history", V5, "--as-of", f"tx:{first - 1}").code == 1
    graph_then = loaded.ok("history", "--as-of", f"tx:{first}")["transactions"]
    assert graph_then and max(t["tx"] for t in graph_then) == first


# -- search -----------------------------------------------------------------------------------


def test_search_with_no_words_lists_the_kind_asked_for(loaded: Harness) -> None:
    """``kubectl get models``: a type and no words lists them all, as does ``*``."""
    g = graph(loaded.org)
    models = {x for x in g.entities if kind_of(x) == "model"} - UNANNOUNCED
    datasets = {x for x in g.entities if kind_of(x) == "dataset"}
    assert ids(loaded.ok("search", "", "--type", "model")) == models
    assert ids(loaded.ok("search", "*", "--type", "dataset")) == datasets
    assert ids(loaded.ok("search", "type:dataset")) == datasets
    everything = loaded.ok("search", "*", "--limit", "500")["results"]
    assert len(everything) == loaded.ok("status")["entities"]
    for result in everything:
        assert result["entity_type"] == ENTITY_TYPE[kind_of(result["id"])]


def test_search_that_finds_nothing_is_an_empty_answer(loaded: Harness) -> None:
    """A search that matches nothing succeeds (``kubectl get`` with no resources)."""
    answer = loaded.mds("search", "zzqx-nothing-like-it")
    assert answer.code == 0 and answer.json["results"] == []


def test_search_by_native_id_finds_that_entity_first(loaded: Harness) -> None:
    """The dataset ``raw-events`` is named "Raw playback events"; its versions' names
    start with ``raw-events``, but the entity whose id it is comes first."""
    assert loaded.ok("search", "raw-events")["results"][0]["id"] == RAW
    assert loaded.ok("search", "12345")["results"][0]["id"] == uri("ab-test", "12345")


def test_search_filters_compose_and_limit_caps(loaded: Harness) -> None:
    g = graph(loaded.org)
    alice = uri("user", "alice")
    owned = {x for x, e in g.entities.items() if alice in e.owners}
    assert ids(loaded.ok("search", "owner:alice")) == owned
    assert ids(loaded.ok("search", "type:model owner:alice tag:domain=home")) == {MODEL}
    assert ids(loaded.ok("search", "type:model tag:domain=away")) == set()
    limited = loaded.ok("search", "owner:alice", "--limit", "2")["results"]
    assert len(limited) == 2
    scores = [r["score"] for r in limited]
    assert scores == sorted(scores, reverse=True)


# -- lineage ------------------------------------------------------------------------------------


def test_lineage_depth_0_is_the_root_alone(loaded: Harness) -> None:
    doc = loaded.ok("lineage", V5, "--direction", "upstream", "--depth", "0")
    assert [(n["id"], n["depth"]) for n in doc["nodes"]] == [(V5, 0)]
    assert doc["edges"] == []


def test_lineage_from_every_kind_is_data_flow_and_downstream_reverses_upstream(
    loaded: Harness,
) -> None:
    """For every entity: no owners or teams in its lineage, every edge a relationship of the
    graph pointing the way it was declared (inferred ones marked, as ``show`` marks them),
    and b downstream of a exactly when a is upstream of b."""
    g = graph(loaded.org)
    known = g.edges | g.tested_in
    entities = sorted(set(g.entities) - UNANNOUNCED)

    async def walk() -> dict[tuple[str, str], dict[str, object]]:
        async with loaded.daemon.client() as client:
            return {
                (xid, way): await client.lineage(xid, direction=way)
                for xid in entities
                for way in ("upstream", "downstream")
            }

    docs = asyncio.run(walk())
    reach: dict[tuple[str, str], set[str]] = {}
    for (xid, way), doc in docs.items():
        nodes = ids(doc, "nodes")
        assert doc["root"] == xid and xid in nodes
        if kind_of(xid) in CONTEXT_KINDS:
            assert nodes == {xid}, f"{way} of {xid}: owners and teams are context, not lineage"
        assert not {kind_of(n) for n in nodes - {xid}} & CONTEXT_KINDS, (xid, way)
        for edge in doc["edges"]:  # type: ignore[attr-defined]
            ends = (edge["source"], edge["target"])
            assert ends in known, f"{xid} {way}: {edge}"
            assert edge["inferred"] is (ends in g.tested_in), f"{xid} {way}: {edge}"
        reach[(xid, way)] = nodes - {xid}
    for a in entities:
        for b in reach[(a, "downstream")]:
            if b in entities:
                assert a in reach[(b, "upstream")], f"{b} is downstream of {a}, not vice versa"
        for b in reach[(a, "upstream")]:
            if b in entities:
                assert a in reach[(b, "downstream")], f"{b} is upstream of {a}, not vice versa"
    assert V5 in reach[(MODEL, "upstream")], "a model is fed by its instances"
    assert reach[(MODEL, "downstream")] == set()


# -- reaching the daemon ----------------------------------------------------------------------


def _mds(*args: str, env: dict[str, str]) -> CliResult:
    done = subprocess.run(
        [sys.executable, "-m", "mds", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def test_mds_socket_names_the_daemon_and_a_missing_one_is_a_clear_failure(
    loaded: Harness, tmp_path: Path
) -> None:
    found = _mds("show", V5, "--json", env={"MDS_SOCKET": str(loaded.daemon.socket)})
    assert found.code == 0 and found.json["id"] == V5
    missing = tmp_path / "nobody.sock"
    given = _mds("--socket", str(missing), "show", V5, "--json", env={})
    overridden = _mds(
        "show",
        V5,
        "--json",
        "--socket",
        str(missing),
        env={"MDS_SOCKET": str(loaded.daemon.socket)},
    )
    for answer in (given, overridden):
        assert answer.code not in (0, 1, 2), "a stopped daemon is no missing entity"
        assert answer.out == "" and str(missing) in answer.err, answer
