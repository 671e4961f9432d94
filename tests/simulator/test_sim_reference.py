"""Every generated world holds the contract's example ids (contract 1.3) wired as its lineage
describes (1.4), and the living world never takes away what the docs name."""

from __future__ import annotations

import random
from typing import Any

import pytest

from simulator import reference as ref
from simulator.world import World
from tests.e2e.truth import expected_graph

#: contract 1.3's example ids, one per entity type
CONTRACT_IDS = (
    "aip://model/registry/ranking-model",
    "aip://model-instance/registry/ranking-model-v5-20250101",
    "aip://pipeline/orchestrator/weekly-ranking-trainer",
    "aip://pipeline-run/orchestrator/train-weekly-ranking-20250101",
    "aip://feature/featurestore/watch-time-7d",
    "aip://dataset/datasets/playback-events",
    "aip://dataset-version/datasets/playback-events@2025-01-01",
    "aip://ab-test/experiments/12345",
    "aip://ab-test-cell/experiments/12345/2",
    "aip://user/identity/alice",
    "aip://team/identity/personalization",
)
ALICE = "alice@example.com"


def _labels(record: dict[str, Any]) -> set[tuple[str, str]]:
    return {(label["key"], label["value"]) for label in record["labels"]}


def check_slice(world: World) -> None:
    """The slice's ids exist and hang together as the docs' examples show."""
    truth = world.truth()
    graph, _ = expected_graph(truth)
    assert sorted(set(CONTRACT_IDS) - graph.keys()) == []
    c = truth["collections"]
    alice = c["users"][ref.USER]
    assert (alice["name"], alice["email"]) == ("Alice Ng", ALICE)
    assert ref.TEAM in alice["team_ids"] and ref.USER in c["teams"][ref.TEAM]["member_ids"]
    assert [u["id"] for u in c["users"].values() if u["name"].startswith("Alice ")] == [ref.USER]

    model = c["models"][ref.MODEL]
    assert model["owner_emails"] == [ALICE]
    assert {("team", ref.TEAM), ("task", "ranking")} <= _labels(model)
    instance = c["instances"][ref.INSTANCE]
    assert instance["model_id"] == ref.MODEL and ref.INSTANCE in model["instance_ids"]
    assert instance["pipeline_run_id"] == ref.RUN
    assert set(ref.FEATURES) <= set(instance["feature_ids"])
    run = c["pipeline-runs"][ref.RUN]
    assert run["pipeline"] == world.trainer_of(ref.MODEL) == "weekly-ranking-trainer"
    assert {"dataset_id": ref.DATASET, "version": "2025-01-01"} in run["input_dataset_versions"]
    assert {"test_id": ref.TEST, "cell_number": 2, "cell_name": "treatment"} in run["ab_test_cells"]
    test = c["tests"][ref.TEST]
    assert [cell["cell_number"] for cell in test["cells"]] == [1, 2]
    assert test["status"] in ("ACTIVE", "CONCLUDED") and test["owner_emails"] == [ALICE]

    for feature_id in ref.FEATURES:
        feature = c["features"][feature_id]
        assert feature["source_dataset_ids"] == [ref.DATASET]
        assert feature["owner_emails"] == [ALICE]
    dataset = c["datasets"][ref.DATASET]
    assert dataset["upstream_dataset_ids"] == [ref.RAW_DATASET]
    assert "2025-01-01" in {v["version"] for v in dataset["versions"]}
    assert ref.DATASET in c["pipelines"]["playback-events-etl"]["output_dataset_ids"]


@pytest.mark.parametrize(
    ("size", "seed"), [(1, 0), (1, 1), (100, 2), (400, 7), (1000, 3), (3000, 1)]
)
def test_every_world_holds_the_reference_slice(size: int, seed: int) -> None:
    check_slice(World.generate(size, seed))


def test_v5_is_the_candidate_against_production_v4() -> None:
    """Control runs the current instance, the treatment the new one: v5 is tested in 12345."""
    truth = World.generate(200, seed=5).truth()["collections"]
    model = truth["models"][ref.MODEL]
    assert model["instance_ids"] == [
        "ranking-model-v1-20241202",
        "ranking-model-v2-20241209",
        "ranking-model-v3-20241216",
        "ranking-model-v4-20241223",
        ref.INSTANCE,
    ]
    assert model["current_instance_id"] == "ranking-model-v4-20241223"
    assert truth["instances"][ref.INSTANCE]["status"] == "staged"
    v4_run = truth["instances"]["ranking-model-v4-20241223"]["pipeline_run_id"]
    assert [c["cell_number"] for c in truth["pipeline-runs"][v4_run]["ab_test_cells"]] == [1]
    assert truth["tests"][ref.TEST]["status"] == "ACTIVE"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_living_world_keeps_the_slice(seed: int) -> None:
    world = World.generate(150, seed=seed)
    rng = random.Random(seed)
    for _ in range(4000):
        world.mutate(rng)
    check_slice(world)
    deleted = world.truth()["deleted"]
    assert ref.INSTANCE not in deleted["instances"] and ref.TEST not in deleted["tests"]


def test_the_slice_takes_the_place_of_generated_entities() -> None:
    """The smallest world is the slice and little more, not the slice beside a minimum world."""
    assert World.generate(1, seed=0).entity_count() < 80
