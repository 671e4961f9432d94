"""The JSON shapes of contract 2.3 and docs/api.md: keys that must be present (more are
welcome). Shared by tests/api (HTTP answers) and tests/cli_e2e (``mds ... --json``), which
print the same documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JSON = Mapping[str, Any]

SEARCH_HIT = {"id", "entity_type", "name", "score", "description", "owners", "tags", "highlights"}
SHOW = {
    "id", "entity_type", "name", "description", "owners", "tags", "status", "last_enriched_at",
    "relationships", "owners_resolved", "created_at", "updated_at", "attributes", "stale",
}  # fmt: skip
RELATIONSHIP = {"type", "direction", "target", "inferred", "target_name", "target_type"}
NODE = {"id", "entity_type", "name", "depth"}
EDGE = {"source", "target", "type"}
GROUP = {"entity_type", "count", "entities"}
STATUS = {
    "entities", "stubs", "pending", "dead_letters", "last_tx", "deleted", "last_tx_at",
    "sources", "enrichment", "started_at", "version",
}  # fmt: skip
SOURCE_STATUS = {"state", "requests", "errors"}
STATUSES = {"resolved", "stub", "deleted"}


def keys(doc: Any, required: Iterable[str], what: str) -> None:
    assert isinstance(doc, Mapping), f"{what}: not an object: {doc!r}"
    missing = set(required) - set(doc)
    assert not missing, f"{what}: missing {sorted(missing)}; has {sorted(doc)}"


def search(doc: JSON) -> None:
    keys(doc, {"results"}, "search")
    for hit in doc["results"]:
        keys(hit, SEARCH_HIT, "search result")
        for owner in hit["owners"]:
            keys(owner, {"id", "name"}, "search result owner")
    scores = [hit["score"] for hit in doc["results"]]
    assert scores == sorted(scores, reverse=True), "results are not best first"


def show(doc: JSON) -> None:
    keys(doc, SHOW, "show")
    assert doc["status"] in STATUSES
    assert all(isinstance(o, str) for o in doc["owners"])
    for tag in doc["tags"]:
        keys(tag, {"tag", "value"}, "tag")
    for owner in doc["owners_resolved"]:
        keys(owner, {"id", "name"}, "resolved owner")
    for rel in doc["relationships"]:
        keys(rel, RELATIONSHIP, "relationship")
        assert rel["direction"] in ("out", "in")
        assert isinstance(rel["inferred"], bool)
        if rel["inferred"]:
            keys(rel["provenance"], {"rule", "path"}, "provenance")


def neighbors(doc: JSON) -> None:
    keys(doc, {"id", "neighbors"}, "neighbors")
    for n in doc["neighbors"]:
        keys(n, {"id", "entity_type", "name", "type", "direction"}, "neighbor")


def lineage(doc: JSON) -> None:
    keys(doc, {"root", "direction", "nodes", "edges"}, "lineage")
    for node in doc["nodes"]:
        keys(node, NODE, "lineage node")
    for edge in doc["edges"]:
        keys(edge, EDGE, "lineage edge")


def groups(doc: JSON, what: str) -> None:
    keys(doc, {"root", "groups"}, what)
    for group in doc["groups"]:
        keys(group, GROUP, f"{what} group")
        assert group["count"] == len(group["entities"])
        for entity in group["entities"]:
            keys(entity, {"id", "name", "depth"}, f"{what} entity")


def impact(doc: JSON) -> None:
    groups(doc, "impact")
    keys(doc, {"total", "notify"}, "impact")
    assert doc["total"] == sum(g["count"] for g in doc["groups"])
    keys(doc["notify"], {"owners", "teams"}, "impact notify")
    for person in (*doc["notify"]["owners"], *doc["notify"]["teams"]):
        keys(person, {"id", "name"}, "impact notify entry")


def dependencies(doc: JSON) -> None:
    groups(doc, "dependencies")


def usage(doc: JSON) -> None:
    """Either way round: a model's or instance's tests, or a test's instances and models."""
    keys(doc, {"id"}, "usage")
    if "ab_tests" in doc:
        for test in doc["ab_tests"]:
            keys(test, {"id", "name", "status", "cells", "via"}, "usage test")
            for cell in test["cells"]:
                keys(cell, {"id", "name"}, "usage cell")
    else:
        keys(doc, {"instances", "models"}, "usage of a test")
        for instance in doc["instances"]:
            keys(instance, {"id", "name", "model", "cells"}, "usage instance")
        for model in doc["models"]:
            keys(model, {"id", "name"}, "usage model")


def path(doc: JSON) -> None:
    keys(doc, {"from", "to", "path", "edges"}, "path")
    for node in doc["path"]:
        keys(node, {"id", "entity_type", "name"}, "path node")
    for edge in doc["edges"]:
        keys(edge, EDGE, "path edge")
    assert len(doc["edges"]) == len(doc["path"]) - 1
    assert doc["path"][0]["id"] == doc["from"] and doc["path"][-1]["id"] == doc["to"]


def history(doc: JSON) -> None:
    keys(doc, {"id", "transactions"}, "history")
    for tx in doc["transactions"]:
        keys(tx, {"tx", "at", "changes", "cause"}, "history transaction")
        for change in tx["changes"]:
            keys(change, {"attribute", "op", "value"}, "history change")
            assert change["op"] in ("assert", "retract")


def graph_history(doc: JSON) -> None:
    keys(doc, {"transactions"}, "graph history")
    for tx in doc["transactions"]:
        keys(tx, {"tx", "at", "cause", "entities", "datoms"}, "graph history transaction")
    txs = [tx["tx"] for tx in doc["transactions"]]
    assert txs == sorted(txs, reverse=True), "graph history is not newest first"


def status(doc: JSON) -> None:
    keys(doc, STATUS, "status")
    for name, source in doc["sources"].items():
        keys(source, SOURCE_STATUS, f"status of source {name}")


def dead_letters(doc: JSON) -> None:
    keys(doc, {"dead_letters"}, "dead letters")
    for letter in doc["dead_letters"]:
        keys(letter, {"id", "received_at", "reason", "raw", "origin"}, "dead letter")


def error(doc: JSON, code: str) -> str:
    """The message of an error document with ``code``."""
    keys(doc, {"error"}, "error document")
    keys(doc["error"], {"code", "message"}, "error")
    assert doc["error"]["code"] == code, doc
    return str(doc["error"]["message"])
