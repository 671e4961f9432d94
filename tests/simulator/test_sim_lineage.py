"""The world's OpenLineage part: the landing jobs of raw datasets, judged by the daemon's
own OpenLineage reader, the same for a seed, and alive with the world."""

from __future__ import annotations

import random

from mds.wire.model import Rel
from mdsd.connectors.openlineage.mapping import observe
from mdsd.connectors.openlineage.parse import parse_lineage
from simulator.lineage import ADOPTED, NAMESPACES, run_events
from simulator.world import World


def test_every_partition_landed_since_adoption_has_one_run_of_valid_events(world: World) -> None:
    truth = world.truth()
    datasets = truth["collections"]["datasets"]
    landed = {
        (native, v["version"])
        for native, record in datasets.items()
        if not record["upstream_dataset_ids"]
        for v in record["versions"]
        if v["created_at"] >= ADOPTED
    }
    runs = truth["lineage"]["runs"]
    assert landed and sorted(landed) == sorted(
        (r["outputs"][0]["name"], r["outputs"][0]["version"]) for r in runs
    )
    assert truth["lineage"]["namespaces"] == NAMESPACES
    for run in runs:
        start, complete = (parse_lineage(event) for event in run_events(run))
        assert start.at < complete.at
        said = observe(complete, NAMESPACES).entities[0]
        dataset = run["outputs"][0]["name"]
        # the warehouse is the datasets source: the run writes its dataset and new version
        assert said.relationships[Rel.WRITES] == [
            f"aip://dataset/datasets/{dataset}",
            f"aip://dataset-version/datasets/{dataset}@{run['outputs'][0]['version']}",
        ]
        assert set(run["owner_emails"]) == set(datasets[dataset]["owner_emails"])


def test_the_reference_models_raw_dataset_lands_through_openlineage(world: World) -> None:
    jobs = {run["job"]["name"] for run in world.truth()["lineage"]["runs"]}
    assert "land-device-events" in jobs  # under playback-events, under ranking-model


def test_a_seed_gives_the_same_lineage_and_another_seed_other_lineage() -> None:
    a, b, other = World.generate(300, seed=4), World.generate(300, seed=4), World.generate(300, 5)
    events = [e for e in a.initial_events() if "eventType" in e]
    assert events and events == [e for e in b.initial_events() if "eventType" in e]
    assert a.truth()["lineage"] != other.truth()["lineage"]


def test_a_partition_landing_in_the_living_world_comes_with_its_run_events(world: World) -> None:
    rng = random.Random(3)
    for _ in range(400):
        events = world.mutate(rng)
        landed = [e for e in events if e.get("event_type") == "dataset_version_created"]
        told = [e for e in events if "eventType" in e]
        dataset = landed[0]["dataset_id"] if landed else None
        if dataset is None or world.record("datasets", dataset)["upstream_dataset_ids"]:
            assert told == []  # only a raw dataset's landing speaks OpenLineage
            continue
        assert [e["eventType"] for e in told] == ["START", "COMPLETE"]
        facets = told[1]["outputs"][0]["facets"]
        assert facets["datasetVersion"]["datasetVersion"] == landed[0]["version"]
        runs = {r["run_id"] for r in world.truth()["lineage"]["runs"]}
        assert told[1]["run"]["runId"] in runs  # the truth knows the new run
        return
    raise AssertionError("no raw partition landed in 400 changes")


def test_partitions_landing_many_times_a_day_get_names_and_runs_of_their_own() -> None:
    """A live world changes many times a second: a raw dataset may land a dozen partitions
    in one day, and each is a version, and a landing run, of its own (a repeated name once
    repeated its run, and its events were a redelivery the daemon rightly dropped)."""
    world = World.generate(300, seed=11)
    world.go_live(lambda: 1_796_600_000.0)  # every change at one moment of one day
    versions: dict[str, list[str]] = {}
    run_ids: list[str] = []
    for event in world.mutate_many(2000):
        if event.get("event_type") == "dataset_version_created":
            versions.setdefault(event["dataset_id"], []).append(event["version"])
        if event.get("eventType") == "COMPLETE":
            run_ids.append(event["run"]["runId"])
    busiest = max(versions.values(), key=len)
    assert len(busiest) > 5, "the test needs a dataset landing many partitions in a day"
    assert all(len(set(labels)) == len(labels) for labels in versions.values())
    assert run_ids and len(set(run_ids)) == len(run_ids)
