"""The sources change after the initial load; the daemon must follow them (contract 1.1:
it converges to the sources' current state), retract what lost its support (1.4) and keep
the past answerable (``history``, ``--as-of``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.conformance.checks import graph_problems
from tests.conformance.expect import graph, instant, required_downstream, uri
from tests.conformance.harness import Harness
from tests.conformance.org import CELL, RAW, TEST, UNANNOUNCED, V5
from tests.conformance.platform import Fault

pytestmark = pytest.mark.slow


def at(text: str) -> datetime:
    moment = instant(text)
    assert moment is not None
    return moment


def inferred(page: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["direction"], r["target"]) for r in page["relationships"] if r["inferred"]}


def changes_of(history: dict[str, Any], value: str) -> list[tuple[int, str, str]]:
    """(tx, op, attribute) of every change whose value is ``value``, oldest first."""
    return [
        (t["tx"], c["op"], c["attribute"])
        for t in history["transactions"]
        for c in t["changes"]
        if c["value"] == value
    ]


def test_tested_in_is_retracted_with_its_support_and_history_keeps_both(fresh: Harness) -> None:
    h = fresh
    assert inferred(h.show(V5)) == {("out", TEST), ("out", CELL)}
    before = h.ok("status")["last_tx"]

    # the run is taken out of the cell: nothing supports tested_in any more
    h.org.payload("pipeline-runs", "train-001")["ab_test_cells"] = []
    h.ingest([{"event_type": "pipeline_run_completed", "run_id": "train-001"}])
    h.wait_idle()
    assert graph(h.org).tested_in == set()
    assert inferred(h.show(V5)) == set()
    assert inferred(h.show(TEST)) == set()
    assert TEST not in {n["id"] for n in h.ok("lineage", RAW, "--direction", "downstream")["nodes"]}
    assert graph_problems(h, skip=UNANNOUNCED) == []

    history = h.ok("history", V5)
    assert history["id"] == V5
    txs = [t["tx"] for t in history["transactions"]]
    assert txs == sorted(txs)
    for t in history["transactions"]:
        assert datetime.fromisoformat(t["at"]).tzinfo is not None
        assert all(c["op"] in ("assert", "retract") for c in t["changes"])
    for target in (TEST, CELL):
        seen = changes_of(history, target)
        ops = [op for _, op, attr in seen if "tested" in attr]
        assert ops == ["assert", "retract"], f"{target}: {seen}"
        asserted = next(tx for tx, op, attr in seen if op == "assert" and "tested" in attr)
        assert asserted <= before

    # as of the moment before the change, the inference and the lineage through it hold
    then = h.show(V5, "--as-of", f"tx:{before}")
    assert inferred(then) == {("out", TEST), ("out", CELL)}
    when = next(t["at"] for t in h.ok("history")["transactions"] if t["tx"] == before)
    assert inferred(h.show(V5, "--as-of", when)) == {("out", TEST), ("out", CELL)}
    assert inferred(h.show(V5, "--as-of", when.lower())) == {("out", TEST), ("out", CELL)}
    old = h.ok("lineage", RAW, "--direction", "downstream", "--as-of", f"tx:{before}")
    assert TEST in {n["id"] for n in old["nodes"]}

    # the run is put back, then the test itself is deleted at its source
    h.org.payload("pipeline-runs", "train-001")["ab_test_cells"] = [
        {"test_id": "12345", "cell_number": 2, "cell_name": "treatment"}
    ]
    h.ingest([{"event_type": "pipeline_run_failed", "run_id": "train-001"}])
    h.wait_idle()
    assert inferred(h.show(V5)) == {("out", TEST), ("out", CELL)}
    h.org.remove("tests", "12345")
    h.ingest([{"event_type": "ab_test_deleted", "test_id": "12345"}])
    h.wait_idle()
    assert h.show(TEST)["status"] == "deleted"
    assert h.show(CELL)["status"] == "deleted"
    assert inferred(h.show(V5)) == set()
    assert graph_problems(h, skip=UNANNOUNCED) == []


def test_deleted_events_are_hints_and_a_404_deletes(fresh: Harness) -> None:
    h = fresh
    legacy, version = uri("dataset", "legacy-dump"), uri("dataset-version", "legacy-dump@1")
    before = h.ok("status")["last_tx"]
    # the registry still has the model: a *_deleted event alone deletes nothing
    h.ingest([{"event_type": "model_deleted", "model_id": "ranking-model"}])
    h.org.remove("datasets", "legacy-dump")
    h.ingest(
        [
            {"event_type": "dataset_deleted", "dataset_id": "legacy-dump"},
            # a late duplicate of its creation, after the deletion
            {"event_type": "dataset_created", "dataset_id": "legacy-dump"},
        ]
    )
    h.wait_idle()
    assert h.show(uri("model", "ranking-model"))["status"] == "resolved"
    assert h.show(legacy)["status"] == "deleted"
    assert h.show(version)["status"] == "deleted"
    assert h.show(legacy, "--as-of", f"tx:{before}")["status"] == "resolved"
    assert graph_problems(h, skip=UNANNOUNCED) == []


def test_newer_payloads_win_whatever_their_offset(fresh: Harness) -> None:
    """Order is by instant, not by the text: ``11:30:00Z`` is after ``12:00:00+02:00``."""
    h = fresh
    model = h.org.payload("models", "ranking-model")
    assert at("2025-03-01T11:30:00Z") > at(model["updated_at"])
    model.update(description="Ranks the home page, v2", updated_at="2025-03-01T11:30:00Z")
    clicks = h.org.payload("datasets", "clickstream")
    clicks.update(description="now described", updated_at="2025-01-07T00:00:00+09:00")
    assert at(clicks["updated_at"]) > at("2025-01-06t09:30:00z")
    h.ingest(
        [
            {"event_type": "model_updated", "model_id": "ranking-model"},
            {"event_type": "dataset_updated", "dataset_id": "clickstream"},
        ]
    )
    h.wait_idle()
    assert h.show(uri("model", "ranking-model"))["description"] == "Ranks the home page, v2"
    assert h.show(uri("dataset", "clickstream"))["description"] == "now described"


def test_reconciliation_recovers_dropped_events(fresh: Harness) -> None:
    """Listing pages are short, tokens opaque; one listing answers 429 first."""
    h = fresh
    assert h.mds("show", uri("model", "churn-model")).code == 1
    h.org.put(
        "datasets",
        {"id": "gold", "name": "Gold", "upstream_dataset_ids": ["sessions"], "versions": None},
    )
    daily = h.org.payload("datasets", "sessions-daily")
    daily.update(description="rolled up daily", updated_at="2025-02-01T00:00:00+01:00")
    h.org.remove("pipelines", "etl")
    h.platform.fail("/api/v1/datasets", Fault("429-seconds", 1))

    started = h.ok("reconcile")
    assert started
    h.wait_idle()

    assert graph_problems(h) == []
    churn = h.show(uri("model", "churn-model"))
    assert churn["status"] == "resolved" and churn["owners"] == [uri("user", "ann")]
    assert h.show(uri("dataset", "sessions-daily"))["description"] == "rolled up daily"
    assert h.show(uri("pipeline", "etl"))["status"] == "deleted"
    assert uri("dataset", "gold") in {
        n["id"] for n in h.ok("lineage", RAW, "--direction", "downstream")["nodes"]
    }
    assert uri("dataset", "gold") in required_downstream(graph(h.org), RAW)
    listings = [x for x in h.platform.hits if x.path == "/api/v1/datasets"]
    assert [x.status for x in listings].count(400) == 0, "a page token came back mangled"
    assert len([x for x in listings if x.status == 200]) > 1, "the listing was paged"


def test_search_as_of_finds_what_was_there_then(fresh: Harness) -> None:
    """``--as-of`` is a view of the past for search too: what was deleted since is found,
    what did not exist yet is not, and results agree with ``show`` at the same moment."""
    h = fresh
    legacy = uri("dataset", "legacy-dump")
    before = h.ok("status")["last_tx"]
    h.org.remove("datasets", "legacy-dump")
    h.org.put("datasets", {"id": "gold", "name": "Gold legacy", "upstream_dataset_ids": []})
    h.ingest(
        [
            {"event_type": "dataset_deleted", "dataset_id": "legacy-dump"},
            {"event_type": "dataset_created", "dataset_id": "gold"},
        ]
    )
    h.wait_idle()

    def found(*args: str) -> dict[str, str]:
        return {r["id"]: r["status"] for r in h.ok("search", *args)["results"]}

    gold = uri("dataset", "gold")
    assert found("legacy") == {gold: "resolved"}
    then = found("legacy", "--as-of", f"tx:{before}")
    assert then[legacy] == "resolved" and gold not in then
    assert legacy in found("", "--type", "dataset", "--as-of", f"tx:{before}")
    assert gold not in found("*", "--limit", "500", "--as-of", f"tx:{before}")
    page = h.show(legacy, "--as-of", f"tx:{before}")
    assert page["status"] == "resolved" and page["name"] == "Legacy dump"


def test_lineage_through_a_cycle_ends_and_lists_each_node_once(fresh: Harness) -> None:
    """Sources may declare a derivation cycle; the walk must still end, each node once."""
    h = fresh
    h.org.payload("datasets", "firehose")["upstream_dataset_ids"] = ["raw-events"]
    h.ingest([{"event_type": "dataset_updated", "dataset_id": "firehose"}])
    h.wait_idle()
    for direction in ("upstream", "downstream"):
        doc = h.ok("lineage", RAW, "--direction", direction)
        nodes = [n["id"] for n in doc["nodes"]]
        assert len(nodes) == len(set(nodes)), nodes
        assert {RAW, uri("dataset", "firehose"), uri("dataset", "bronze")} <= set(nodes)
        assert [n["depth"] for n in doc["nodes"] if n["id"] == RAW] == [0]
