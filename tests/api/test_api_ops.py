"""Operating the daemon: status, wait-idle, events in, dead letters and redrive, reconcile,
history, and the enrichment endpoints' shapes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import contract_shapes as shape
import pytest
from api_org import IDLE_TIMEOUT_S, Org, org_config
from api_world import Truth, aip

from mds import client as client_module
from mds.client import Client
from mdsd.api.rest import create_app
from mdsd.daemon import Daemon

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_status_counts_the_loaded_world(org: Org) -> None:
    status = await org.client.status()
    shape.status(status)
    assert status["entities"] == org.world.entity_count()
    assert (status["stubs"], status["pending"], status["deleted"]) == (0, 0, 0)
    assert status["last_tx"] >= org.loaded_tx
    assert set(status["sources"]) == set(org.daemon.config.sources)
    assert all(s["state"] == "closed" and s["requests"] > 0 for s in status["sources"].values())


async def test_wait_idle_answers_with_the_status(client: Client) -> None:
    answer = await client.wait_idle(timeout=0)
    shape.status(answer)
    assert answer["idle"] is True


async def test_events_in_every_framing_are_accepted(client: Client, truth: Truth) -> None:
    model, instance = sorted(truth["models"])[0], sorted(truth["instances"])[0]
    one = {"event_type": "model_updated", "model_id": model}
    other = {"event_type": "model_instance_updated", "instance_id": instance}
    for body, count in (
        (json.dumps(one).encode(), 1),
        (json.dumps([one, other]).encode(), 2),
        (f"{json.dumps(one)}\n{json.dumps(other)}\n".encode(), 2),
    ):
        assert await client.ingest(body) == {"accepted": count, "duplicates": 0, "rejected": []}
    assert (await client.wait_idle(IDLE_TIMEOUT_S))["idle"]


async def test_large_json_lines_go_in_parts_and_reasons_point_into_the_whole_input(
    client: Client, truth: Truth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Input of any size gets in (each part under the daemon's request cap), and a bad
    line in a later part is named by its line in the whole file, as one request would."""
    monkeypatch.setattr(client_module, "INGEST_PART_BYTES", 300)
    good = json.dumps({"event_type": "model_updated", "model_id": sorted(truth["models"])[0]})
    lines = [good] * 10 + [""] + [good] * 10 + ["not json"] + [good] * 5
    body = "\n".join(lines).encode()
    assert len(client_module.json_line_parts(body, 300) or []) > 3
    answer = await client.ingest(body, name="backlog.jsonl")
    assert answer["accepted"] == 25
    ((rejected,),) = [answer["rejected"]]
    assert rejected["index"] == 20  # the blank line is no event
    assert rejected["reason"].startswith("line 22: not JSON")
    letters = (await client.dead_letters())["dead_letters"]
    assert any(
        d["reason"].startswith("line 22: not JSON") and d["raw"] == "not json" for d in letters
    )


async def test_rejected_events_are_kept_as_dead_letters_with_their_reason(
    client: Client, truth: Truth
) -> None:
    good = {"event_type": "model_updated", "model_id": sorted(truth["models"])[0]}
    bad = {"event_type": "model_exploded", "model_id": "x"}
    body = "\n".join([json.dumps(good), "not json", json.dumps(bad)]).encode()
    answer = await client.ingest(body)
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert "not JSON" in answer["rejected"][0]["reason"]
    assert "model_exploded" in answer["rejected"][1]["reason"]

    letters = await client.dead_letters()
    shape.dead_letters(letters)
    mine = [d for d in letters["dead_letters"] if "model_exploded" in d["raw"]]
    assert mine and mine[0]["origin"] == "socket"
    assert "unknown event_type" in mine[0]["reason"]

    # still invalid, so redriving it rejects it again and keeps it
    assert await client.redrive([mine[0]["id"]]) == {"redriven": 0, "rejected": 1, "missing": []}
    again = await client.dead_letters()
    assert any("model_exploded" in d["raw"] for d in again["dead_letters"])
    assert (await client.status())["dead_letters"] >= 1
    assert await client.redrive([]) == {"redriven": 0, "rejected": 0, "missing": []}


async def test_redrive_succeeds_once_the_cause_is_fixed(
    org: Org, truth: Truth, tmp_path: Path
) -> None:
    """An event for a source that is not configured waits in the dead letters, across a
    restart, until the source is configured; then a redrive hydrates it."""
    test = sorted(truth["tests"])[0]
    event = json.dumps({"event_type": "ab_test_created", "test_id": test}).encode()
    url = org.simulator.base_url

    daemon = Daemon(org_config(url, tmp_path, without=["experiments"]))
    await daemon.start()
    try:
        async with Client(app=create_app(daemon.api)) as client:
            answer = await client.ingest(event)
            assert "not configured" in answer["rejected"][0]["reason"]
    finally:
        await daemon.stop()

    daemon = Daemon(org_config(url, tmp_path))
    await daemon.start()
    try:
        async with Client(app=create_app(daemon.api)) as client:
            (letter,) = (await client.dead_letters())["dead_letters"]
            assert json.loads(letter["raw"])["test_id"] == test
            assert await client.redrive(None) == {"redriven": 1, "rejected": 0, "missing": []}
            assert (await client.wait_idle(IDLE_TIMEOUT_S))["idle"]
            assert (await client.dead_letters())["dead_letters"] == []
            shown = await client.entity(aip("tests", test))
            assert shown["status"] == "resolved"
            assert shown["name"] == truth["tests"][test]["name"]
    finally:
        await daemon.stop()


async def test_reconcile_starts_a_pass(client: Client) -> None:
    answer = await client.reconcile()
    assert answer["started"] is True
    assert isinstance(answer["pass"], int)
    # wait-idle does not wait for a pass that is still listing, so wait for it first
    for _ in range(IDLE_TIMEOUT_S * 20):
        reconcile = (await client.status())["enrichment"]["reconcile"]
        last = reconcile["last"] or {}
        if not reconcile["running"] and last.get("pass") == answer["pass"]:
            break
        await asyncio.sleep(0.05)
    assert last["finished_at"] and not last["errors"], reconcile
    assert (await client.wait_idle(IDLE_TIMEOUT_S))["idle"]


async def test_entity_history_lists_what_each_transaction_changed(
    client: Client, truth: Truth
) -> None:
    xid, model = next(truth.records("models"))
    doc = await client.history(xid)
    shape.history(doc)
    txs = [t["tx"] for t in doc["transactions"]]
    assert txs == sorted(txs) and doc["id"] == xid
    first = {
        (c["attribute"], c["op"], json.dumps(c["value"])) for c in doc["transactions"][0]["changes"]
    }
    assert ("entity/name", "assert", json.dumps(model["name"])) in first
    assert doc["transactions"][0]["cause"]
    owners = {
        c["value"]: c["target_name"]
        for t in doc["transactions"]
        for c in t["changes"]
        if c["attribute"] == "rel/owned_by"
    }
    assert owners and set(owners) == truth.owners(model)  # a reference names its target
    for owner, name in owners.items():
        assert name == truth.record(owner)["name"]
    latest = await client.history(xid, limit=1)
    assert [t["tx"] for t in latest["transactions"]] == txs[-1:]


async def test_graph_history_pages_back_newest_first(org: Org) -> None:
    client = org.client
    last_tx = (await client.status())["last_tx"]
    page = await client.history(limit=5)
    shape.graph_history(page)
    assert len(page["transactions"]) == 5
    assert page["transactions"][0]["tx"] >= last_tx
    oldest = page["transactions"][-1]["tx"]
    older = await client.history(limit=5, before_tx=oldest)
    assert [t["tx"] for t in older["transactions"]] == list(range(oldest - 1, oldest - 6, -1))
    loaded = (await client.history(limit=50, before_tx=org.loaded_tx + 1))["transactions"]
    assert loaded[0]["tx"] == org.loaded_tx
    assert all(t["entities"] and t["datoms"] > 0 for t in loaded)
    far = await client.history(limit=3, before_tx=10**12)  # beyond the last: the newest
    assert [t["tx"] for t in far["transactions"]] == [t["tx"] for t in page["transactions"][:3]]


async def test_graph_history_names_what_each_transaction_touched(org: Org) -> None:
    """Entities by name, and an inferred edge (an internal id) by what it joins."""
    transactions = (await org.client.history(limit=10_000))["transactions"]
    edges = 0
    for tx in transactions:
        names = tx["names"]
        for xid in tx["entities"]:
            if xid.startswith("edge:tested_in:"):
                edges += 1
                assert " tested_in " in names[xid] and "edge:" not in names[xid], names[xid]
                assert "aip://" not in names[xid]
    assert edges > 0


async def test_enrichment_and_graphql_endpoints_answer(client: Client, truth: Truth) -> None:
    """Their content is tested where they are built; here: they are served, with ids."""
    model = next(truth.records("models"))[0]
    assert (await client.similar(model, limit=3))["id"] == model
    assert (await client.suggestions(model, limit=3))["id"] == model
    quality = await client.quality()
    shape.keys(quality, {"summary", "missing_owners", "stale", "unresolved_stubs"}, "quality")
    answer = await client.graphql("query($id: ID!) { entity(id: $id) { name } }", {"id": model})
    assert answer["data"]["entity"]["name"] == truth["models"][model.rsplit("/", 1)[1]]["name"]
