"""The daemon's answers about the initial organisation, checked against the contract.

Expectations come from the platform's payloads through ``expect`` (contract 1.3/1.4);
answers come from ``mds ... --json`` subprocesses (or the same API through the client
where a check reads every entity).
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest

from tests.conformance.checks import graph_problems
from tests.conformance.expect import (
    graph,
    instant,
    kind_of,
    required_downstream,
    required_upstream,
    teams_of,
    uri,
)
from tests.conformance.harness import Harness
from tests.conformance.org import CELL, MALFORMED, RAW, TEST, UNANNOUNCED, V5

pytestmark = pytest.mark.slow

CONTEXT_KINDS = {"user", "team"}


def test_every_entity_is_normalized_as_the_contract_says(loaded: Harness) -> None:
    problems = graph_problems(loaded, skip=UNANNOUNCED)
    assert problems == [], "\n".join(problems)


def test_references_to_unknown_entities_stay_visible(loaded: Harness) -> None:
    """A run reads a version its dataset no longer lists: it exists as a stub (or is
    known deleted), never silently dropped, and waiting for idle still terminates."""
    g = graph(loaded.org)
    assert g.dangling == {uri("dataset-version", "raw-events@2024-12-31")}
    for xid in g.dangling:
        page = loaded.show(xid)
        assert page["status"] in ("stub", "deleted"), page
        assert page["entity_type"] == "DatasetVersion"


def test_owner_lookups_that_answer_none_or_several(loaded: Harness) -> None:
    model = loaded.show(uri("model", "ranking-model"))
    assert model["owners"] == [uri("user", "alice")], "ghost@ has no user: no owner for it"
    feature = loaded.show(uri("feature", "ctr-1d"))
    assert feature["owners"] == [uri("user", "ann")], "ann@example.com is ann, not ann-au"
    firehose = loaded.show(uri("dataset", "firehose"))
    assert firehose["owners"] == [uri("user", "carol")], "nobody's email is ann@example.co"
    watch = loaded.show(uri("feature", "watch-time-7d"))
    assert watch["owners"] == [uri("user", "bob")], "emails compare case-insensitively"


def test_tested_in_is_inferred_with_provenance(loaded: Harness) -> None:
    g = graph(loaded.org)
    assert g.tested_in == {(V5, TEST), (V5, CELL)}
    page = loaded.show(V5)
    inferred = {(r["direction"], r["target"]) for r in page["relationships"] if r["inferred"]}
    assert inferred == {("out", TEST), ("out", CELL)}
    assert all("tested" in r["type"] for r in page["relationships"] if r["inferred"])
    test = loaded.show(TEST)
    assert {(r["direction"], r["target"]) for r in test["relationships"] if r["inferred"]} == {
        ("in", V5)
    }


def _check_lineage(h: Harness, doc: dict[str, Any], root: str) -> set[str]:
    g = graph(h.org)
    assert doc["root"] == root
    for key in ("nodes", "edges"):
        assert key in doc
    nodes = {n["id"]: n for n in doc["nodes"]}
    for node in doc["nodes"]:
        assert {"id", "entity_type", "name", "depth"} <= node.keys(), node
        if node["id"] in g.entities:
            assert node["entity_type"] == g.entities[node["id"]].entity_type
            assert node["name"] == g.entities[node["id"]].name
    known = g.edges | g.tested_in
    for edge in doc["edges"]:
        assert (edge["source"], edge["target"]) in known, f"no such relationship: {edge}"
        assert edge["source"] in nodes and edge["target"] in nodes
    assert not {kind_of(n) for n in nodes} & CONTEXT_KINDS, "owners are context, not lineage"
    return set(nodes) - {root}


def test_lineage_upstream_of_an_instance_is_transitive(loaded: Harness) -> None:
    doc = loaded.ok("lineage", V5, "--direction", "upstream")
    nodes = _check_lineage(loaded, doc, V5)
    required = required_upstream(graph(loaded.org), V5)
    assert uri("dataset", "firehose") in required
    assert required <= nodes, f"missing upstream: {sorted(required - nodes)}"
    downstream_only = {uri("model", "ranking-model"), TEST, CELL}
    assert not nodes & downstream_only, "a model and its tests are downstream of an instance"
    depths = {n["id"]: n["depth"] for n in doc["nodes"]}
    assert depths[uri("pipeline-run", "train-001")] == 1
    assert depths[uri("feature", "watch-time-7d")] == 1


def test_lineage_downstream_of_a_dataset(loaded: Harness) -> None:
    doc = loaded.ok("lineage", RAW, "--direction", "downstream")
    nodes = _check_lineage(loaded, doc, RAW)
    required = required_downstream(graph(loaded.org), RAW)
    assert {V5, uri("model", "ranking-model"), TEST} <= required
    assert required <= nodes, f"missing downstream: {sorted(required - nodes)}"
    upstream_only = {uri("dataset", "bronze"), uri("dataset", "firehose")}
    assert not nodes & upstream_only


def test_lineage_depth_limits_the_walk(loaded: Harness) -> None:
    doc = loaded.ok("lineage", V5, "--direction", "upstream", "--depth", "1")
    g = graph(loaded.org)
    direct = {t for t in g.entities[V5].out if kind_of(t) in ("pipeline-run", "feature")}
    assert {n["id"] for n in doc["nodes"]} - {V5} == direct


def test_impact_of_a_dataset_names_whom_to_notify(loaded: Harness) -> None:
    g = graph(loaded.org)
    doc = loaded.ok("impact", RAW)
    text = str(doc)
    for xid in required_downstream(g, RAW):
        assert xid in text, f"{xid} is downstream of {RAW} but not in its impact"
    owners = {o for x in required_downstream(g, RAW) for o in g.entities[x].owners}
    assert owners, "the organisation gives the downstream entities owners"
    for owner in owners:
        assert owner in text, f"owner {owner} is not notified"
    teams = {t for o in owners for t in teams_of(loaded.org, o)}
    assert uri("team", "search") in teams, "ann is in search by its member list alone"
    for team in teams:
        assert team in text, f"team {team} is not notified"


def test_search_finds_by_name_best_first(loaded: Harness) -> None:
    doc = loaded.ok("search", "Weekly ranking trainer")
    results = doc["results"]
    assert results, doc
    for r in results:
        assert {"id", "entity_type", "name", "score"} <= r.keys()
    assert results[0]["id"] == uri("pipeline", "weekly-trainer")
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    typed = loaded.ok("search", "ranking", "--type", "model")["results"]
    assert typed and {r["entity_type"] for r in typed} == {"Model"}
    assert uri("model", "ranking-model") in {r["id"] for r in typed}


def test_status_and_dead_letters(loaded: Harness) -> None:
    g = graph(loaded.org)
    status = loaded.ok("status")
    for key in ("entities", "stubs", "pending", "dead_letters", "last_tx"):
        assert key in status, key
    assert status["pending"] == 0
    assert status["dead_letters"] == len(MALFORMED)
    assert status["entities"] == len(set(g.entities) - UNANNOUNCED) + len(g.dangling)
    letters = loaded.ok("dead-letters")
    reasons = [d["reason"] for d in letters["dead_letters"]]
    assert len(reasons) == len(MALFORMED) and all(reasons)
    assert any("event_type" in r for r in reasons)


def test_retry_after_is_respected_in_both_forms(loaded: Harness) -> None:
    checked = 0
    for path in ("/api/v1/models/ranking-model", "/api/v1/features/watch-time-7d"):
        hits = loaded.platform.hits_for(path)
        for earlier, later in pairwise(hits):
            if earlier.not_before is not None:
                checked += 1
                early = earlier.not_before - later.at
                assert early <= 0.05, f"{path} asked again {early:.2f}s before Retry-After"
    assert checked == 2
    failed = loaded.platform.hits_for("/api/v1/tests/12345")
    assert [h.status for h in failed[:3]] == [503, 503, 200]


def test_exit_codes(loaded: Harness) -> None:
    assert loaded.mds("show", uri("model", "no-such-model")).code == 1
    assert loaded.mds("show", V5, "--as-of", "2000-01-01").code == 1
    assert loaded.mds("lineage", V5, "--direction", "sideways").code == 2
    assert loaded.mds("show", V5, "--as-of", "yesterday-ish").code == 2


def test_timestamps_in_every_rfc3339_spelling_are_read(loaded: Harness) -> None:
    """``2025-01-06t09:30:00z`` is RFC 3339 (section 5.6 allows lowercase t and z)."""
    page = loaded.show(uri("dataset", "clickstream"))
    assert page["updated_at"] is not None, "a lowercase RFC 3339 time was dropped"
    assert datetime.fromisoformat(page["updated_at"]) == instant("2025-01-06t09:30:00z")
    weekly = loaded.show(uri("dataset", "sessions-weekly"))
    assert datetime.fromisoformat(weekly["updated_at"]) == instant("2025-01-03T00:00:00.123456789Z")
