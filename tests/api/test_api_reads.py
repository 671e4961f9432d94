"""Reading the graph: search, show, neighbors, lineage, impact, dependencies, usage, path.

Answers are compared with the simulator's ground truth (``api_world.Truth``), so these
tests hold hydration, enrichment and the queries to contract 1.3-1.4 together.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import contract_shapes as shape
import pytest
from api_org import IDLE_TIMEOUT_S, Org
from api_world import Truth, aip

from mds.client import ApiError, Client
from mds.wire.model import EntityType

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: never reached by lineage: owners and teams are context (contract 1.4)
CONTEXT = {EntityType.USER, EntityType.TEAM}


def node_ids(doc: dict[str, Any]) -> set[str]:
    return {n["id"] for n in doc["nodes"]}


def grouped_ids(doc: dict[str, Any]) -> set[str]:
    return {e["id"] for g in doc["groups"] for e in g["entities"]}


def edges_connect_nodes(doc: dict[str, Any]) -> None:
    ids = node_ids(doc)
    assert all(e["source"] in ids and e["target"] in ids for e in doc["edges"])


# -- search -------------------------------------------------------------------------------


async def test_search_ranks_the_exact_name_first(client: Client, truth: Truth) -> None:
    xid, model = next(truth.records("models"))
    answer = await client.search(model["name"])
    shape.search(answer)
    assert answer["results"][0]["id"] == xid
    assert answer["results"][0]["entity_type"] == "Model"


async def test_search_filters_by_type_and_limit(client: Client, truth: Truth) -> None:
    _, model = next(truth.records("models"))
    task = model["name"].split("-")[0]
    answer = await client.search(task, type="model-instance", limit=3)
    shape.search(answer)
    assert 0 < len(answer["results"]) <= 3
    assert {r["entity_type"] for r in answer["results"]} == {"ModelInstance"}


async def test_owner_search_finds_only_people_and_teams(client: Client, truth: Truth) -> None:
    xid, user = next(truth.records("users"))
    answer = await client.search_owners(user["name"])
    shape.search(answer)
    assert answer["results"][0]["id"] == xid
    assert {r["entity_type"] for r in answer["results"]} <= {"User", "Team"}


# -- show and neighbors ---------------------------------------------------------------------


async def test_show_states_what_the_source_says(client: Client, truth: Truth) -> None:
    native = truth.rich_instance()
    record = truth["instances"][native]
    doc = await client.entity(aip("instances", native))
    shape.show(doc)
    assert (doc["entity_type"], doc["name"], doc["status"]) == ("ModelInstance", native, "resolved")
    assert set(doc["owners"]) == truth.owners(record)
    assert {(t["tag"], t["value"]) for t in doc["tags"]} == {
        (label["key"], label["value"]) for label in record["labels"]
    }
    assert doc["attributes"]["status"] == record["status"]
    out = {(r["type"], r["target"]) for r in doc["relationships"] if r["direction"] == "out"}
    assert ("instance_of", aip("models", record["model_id"])) in out
    assert ("produced_by", aip("pipeline-runs", record["pipeline_run_id"])) in out
    assert {("uses_feature", aip("features", f)) for f in record["feature_ids"]} <= out


@pytest.mark.parametrize("pick", ["tested instance", "its run", "its test", "raw dataset"])
async def test_every_relationship_is_mirrored_at_its_other_end(
    client: Client, truth: Truth, pick: str
) -> None:
    """``target`` is always the entity at the other end, and that end lists the same edge
    with the opposite ``direction`` and ``target`` pointing back."""
    instance, test = truth.tested_instance()
    xid = {
        "tested instance": aip("instances", instance),
        "its run": aip("pipeline-runs", truth["instances"][instance]["pipeline_run_id"]),
        "its test": aip("tests", test),
        "raw dataset": aip("datasets", truth.raw_dataset()),
    }[pick]
    doc = await client.entity(xid)
    assert doc["relationships"], f"{xid} has no relationships"
    flip = {"out": "in", "in": "out"}
    for rel in doc["relationships"]:
        assert rel["target"] != xid
        other = await client.entity(rel["target"])
        mirrored = {
            (r["type"], r["direction"], r["inferred"])
            for r in other["relationships"]
            if r["target"] == xid
        }
        assert (rel["type"], flip[rel["direction"]], rel["inferred"]) in mirrored, rel


async def test_tested_in_is_inferred_with_its_provenance(client: Client, truth: Truth) -> None:
    instance, test = truth.tested_instance()
    run = truth["instances"][instance]["pipeline_run_id"]
    doc = await client.entity(aip("instances", instance))
    (edge,) = [
        r
        for r in doc["relationships"]
        if r["type"] == "tested_in" and r["target"] == aip("tests", test)
    ]
    assert edge["inferred"] is True and edge["direction"] == "out"
    assert edge["provenance"]["rule"]
    path = edge["provenance"]["path"]
    assert path[0] == aip("instances", instance) and path[-1] == aip("tests", test)
    assert aip("pipeline-runs", run) in path


async def test_neighbors_are_the_relationships_one_edge_away(client: Client, truth: Truth) -> None:
    xid = aip("instances", truth.rich_instance())
    doc = await client.neighbors(xid)
    shape.neighbors(doc)
    shown = await client.entity(xid)
    assert {(n["id"], n["type"], n["direction"]) for n in doc["neighbors"]} == {
        (r["target"], r["type"], r["direction"]) for r in shown["relationships"]
    }


# -- lineage ----------------------------------------------------------------------------------


async def test_upstream_of_an_instance_is_what_it_was_built_from(
    client: Client, truth: Truth
) -> None:
    native = truth.rich_instance()
    record = truth["instances"][native]
    doc = await client.lineage(aip("instances", native), direction="upstream", depth=50)
    shape.lineage(doc)
    edges_connect_nodes(doc)
    missing = truth.upstream_of_instance(native) - node_ids(doc)
    assert not missing, f"upstream lacks {sorted(missing)}"
    depth = {n["id"]: n["depth"] for n in doc["nodes"]}
    assert depth[aip("instances", native)] == 0
    assert depth[aip("pipeline-runs", record["pipeline_run_id"])] == 1
    assert {depth[aip("features", f)] for f in record["feature_ids"]} == {1}
    kinds = {n["entity_type"] for n in doc["nodes"]}
    assert not kinds & (CONTEXT | {"Model", "AbTest", "AbTestCell"}), kinds


async def test_downstream_of_a_dataset_is_everything_it_feeds(client: Client, truth: Truth) -> None:
    native = truth.raw_dataset()
    doc = await client.lineage(aip("datasets", native), direction="downstream", depth=50)
    shape.lineage(doc)
    edges_connect_nodes(doc)
    expected = truth.downstream_of_dataset(native)
    missing = expected - node_ids(doc)
    assert not missing, f"downstream lacks {sorted(missing)}"
    kinds = {n["entity_type"] for n in doc["nodes"]}
    assert {"Feature", "PipelineRun", "ModelInstance", "Model", "AbTest"} <= kinds
    assert not kinds & (CONTEXT | {"Pipeline"}), kinds


async def test_depth_limits_the_walk(client: Client, truth: Truth) -> None:
    xid = aip("datasets", truth.raw_dataset())
    deep = await client.lineage(xid, direction="downstream", depth=6)
    one = await client.lineage(xid, direction="downstream", depth=1)
    none = await client.lineage(xid, direction="downstream", depth=0)
    assert node_ids(none) == {xid} and none["edges"] == []
    assert {n["depth"] for n in one["nodes"]} == {0, 1}
    assert node_ids(one) == {n["id"] for n in deep["nodes"] if n["depth"] <= 1}
    assert max(n["depth"] for n in deep["nodes"]) <= 6
    assert len(deep["nodes"]) > len(one["nodes"])


async def test_types_keep_only_those_relationships(client: Client, truth: Truth) -> None:
    native = truth.rich_instance()
    run = truth["pipeline-runs"][truth["instances"][native]["pipeline_run_id"]]
    doc = await client.lineage(aip("instances", native), types=["produced_by", "run_of"])
    assert node_ids(doc) == {
        aip("instances", native),
        aip("pipeline-runs", run["run_id"]),
        aip("pipelines", run["pipeline"]),
    }
    assert {e["type"] for e in doc["edges"]} == {"produced_by", "run_of"}


# -- impact, dependencies, usage, path ----------------------------------------------------------


async def test_impact_groups_the_downstream_closure_and_names_whom_to_tell(
    client: Client, truth: Truth
) -> None:
    xid = aip("datasets", truth.raw_dataset())
    doc = await client.impact(xid)
    shape.impact(doc)
    closure = await client.lineage(xid, direction="downstream", depth=20)
    assert grouped_ids(doc) == node_ids(closure) - {xid}
    for group in doc["groups"]:
        assert {e["id"] for e in group["entities"]} == {
            n["id"]
            for n in closure["nodes"]
            if n["entity_type"] == group["entity_type"] and n["id"] != xid
        }
    owners: set[str] = set()
    for entity in grouped_ids(doc) | {xid}:
        record = truth.record(entity)
        owners |= truth.owners(record) if record else set()
    notified = {o["id"] for o in doc["notify"]["owners"]}
    assert owners and owners <= notified
    assert truth.teams(owners) <= {t["id"] for t in doc["notify"]["teams"]}
    # each entity with its lifecycle stage, as its source says it; live ones first
    live = {"production": 0, "active": 0, "running": 1, "staged": 2}
    for group in doc["groups"]:
        stages = []
        for entity in group["entities"]:
            record = truth.record(entity["id"])
            said = (record or {}).get("status")
            assert (entity["stage"] or "").lower() == (str(said).lower() if said else ""), entity
            stages.append(entity["stage"])
        assert group.get("stages", {}) == dict(Counter(s for s in stages if s))
        ranks = [live.get((s or "").lower(), 5) for s in stages]
        firsts = [r for r in ranks if r < 5]
        assert firsts == sorted(firsts) and ranks[: len(firsts)] == firsts, group["entity_type"]
    instances = next(g for g in doc["groups"] if g["entity_type"] == "ModelInstance")
    assert {"production", "retired"} <= {s.lower() for s in instances["stages"]}


async def test_dependencies_group_the_upstream_closure(client: Client, truth: Truth) -> None:
    xid = aip("instances", truth.rich_instance())
    doc = await client.dependencies(xid)
    shape.dependencies(doc)
    closure = await client.lineage(xid, direction="upstream", depth=20)
    assert grouped_ids(doc) == node_ids(closure) - {xid}
    assert {"PipelineRun", "Pipeline", "Feature", "Dataset", "DatasetVersion"} <= {
        g["entity_type"] for g in doc["groups"]
    }


async def test_usage_answers_both_ways(client: Client, truth: Truth) -> None:
    instance, test = truth.tested_instance()
    instance_id, test_id = aip("instances", instance), aip("tests", test)
    model_id = aip("models", truth["instances"][instance]["model_id"])

    for asked in (model_id, instance_id):
        doc = await client.usage(asked)
        shape.usage(doc)
        (row,) = [t for t in doc["ab_tests"] if t["id"] == test_id]
        assert instance_id in row["via"]
        assert row["cells"] and all(
            c["id"].startswith(f"aip://ab-test-cell/experiments/{test}/") for c in row["cells"]
        )

    doc = await client.usage(test_id)
    shape.usage(doc)
    (row,) = [i for i in doc["instances"] if i["id"] == instance_id]
    assert row["model"]["id"] == model_id
    assert model_id in {m["id"] for m in doc["models"]}


async def test_usage_of_something_never_tested_is_a_bad_query(client: Client, truth: Truth) -> None:
    with pytest.raises(ApiError) as raised:
        await client.usage(aip("datasets", truth.raw_dataset()))
    assert raised.value.status == 400


async def test_path_walks_edges_either_way(client: Client, truth: Truth) -> None:
    instance, _ = truth.tested_instance()
    model_id = aip("models", truth["instances"][instance]["model_id"])
    datasets = {xid for xid, _ in truth.records("datasets")}
    dataset = min(truth.upstream_of_instance(instance) & datasets)
    doc = await client.path(dataset, model_id)
    shape.path(doc)
    hops = zip(doc["path"], doc["path"][1:], strict=False)
    for (a, b), edge in zip(hops, doc["edges"], strict=True):
        assert {edge["source"], edge["target"]} == {a["id"], b["id"]}
    assert not doc["via_people"]
    assert not {"owned_by", "member_of"} & {e["type"] for e in doc["edges"]}
    same = await client.path(model_id, model_id)
    assert [n["id"] for n in same["path"]] == [model_id] and same["edges"] == []


async def test_a_path_goes_through_people_only_when_nothing_else_connects(
    client: Client, truth: Truth
) -> None:
    instance, _ = truth.tested_instance()
    owner = min(truth.owners(truth["instances"][instance]))
    doc = await client.path(aip("instances", instance), owner)
    assert doc["via_people"] and doc["edges"][-1]["type"] == "owned_by"


async def test_no_path_within_max_depth_is_not_found(client: Client, truth: Truth) -> None:
    _, test = truth.tested_instance()
    source = aip("datasets", truth.raw_dataset())
    with pytest.raises(ApiError) as raised:
        await client.path(source, aip("tests", test), max_depth=1)
    assert raised.value.status == 404
    assert "no path" in raised.value.message


async def test_org_was_loaded_whole(org: Org) -> None:
    """Guards the fixture the other tests trust: every entity hydrated, nothing stuck."""
    status = await org.client.wait_idle(IDLE_TIMEOUT_S)
    shape.status(status)
    assert status["entities"] == org.world.entity_count()
    assert (status["stubs"], status["pending"]) == (0, 0)
