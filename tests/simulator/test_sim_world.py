from __future__ import annotations

import json
import random
import re
import time

import pytest
from sim_contract import (
    EVENT_ID_FIELDS,
    dangling_references,
    event_kind,
    event_target,
    is_lineage,
    record_problems,
)

from simulator.clock import DAY, EPOCH, rfc3339
from simulator.records import COLLECTIONS, EVENT_ID_FIELD, KEY_FIELD
from simulator.world import World


def _shape_problems(world: World) -> list[str]:
    truth = world.truth()["collections"]
    return [
        f"{collection} {native_id}: {problem}"
        for collection, records in truth.items()
        for native_id, record in records.items()
        for problem in record_problems(collection, record)
    ]


def test_same_seed_same_world_and_same_changes() -> None:
    a, b = World.generate(500, seed=3), World.generate(500, seed=3)
    assert a.truth() == b.truth()
    assert a.mutate_many(200) == b.mutate_many(200)
    assert a.truth() == b.truth()
    assert World.generate(500, seed=4).truth() != a.truth()


def test_mutations_with_a_given_rng_are_deterministic() -> None:
    a, b = World.generate(300, seed=1), World.generate(300, seed=1)
    assert [a.mutate(random.Random(9)) for _ in range(50)] == [
        b.mutate(random.Random(9)) for _ in range(50)
    ]


@pytest.mark.parametrize("size", [100, 1000, 10_000])
def test_size_is_about_the_entity_count(size: int) -> None:
    world = World.generate(size, seed=1)
    assert abs(world.entity_count() - size) / size < 0.25
    assert all(world.counts()[c] > 0 for c in COLLECTIONS)


@pytest.mark.slow
@pytest.mark.parametrize(("size", "cpu_seconds"), [(100_000, 10), (1_000_000, 45)])
def test_large_worlds_generate_quickly(size: int, cpu_seconds: float) -> None:
    started = time.process_time()
    world = World.generate(size, seed=1)
    assert time.process_time() - started < cpu_seconds
    assert abs(world.entity_count() - size) < size / 10


def test_timestamps_are_rfc3339_utc() -> None:
    for t in (0, 1_735_689_600, 1_735_689_600 + 3661, 1_735_689_600 + 86_399, 951_782_400):
        assert rfc3339(t) == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_records_match_the_contract(world: World) -> None:
    assert _shape_problems(world) == []


def test_records_are_keyed_by_their_id(world: World) -> None:
    truth = world.truth()["collections"]
    for collection, records in truth.items():
        assert all(record[KEY_FIELD[collection]] == key for key, record in records.items())


def test_references_resolve(world: World) -> None:
    assert dangling_references(world.truth()) == []


def test_ids_and_names_look_real(world: World) -> None:
    truth = world.truth()["collections"]
    assert "personalization" in truth["teams"]
    user = next(iter(truth["users"].values()))
    assert re.fullmatch(r"[a-z]+\d*(-\d+)?", user["id"])
    assert user["email"] == f"{user['id']}@example.com"
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", user["name"])
    assert all(re.fullmatch(r"\d{5,}", test_id) for test_id in truth["tests"])
    for instance_id, instance in truth["instances"].items():
        assert re.fullmatch(rf"{instance['model_id']}-v{instance['version']}-\d{{8}}", instance_id)
    for run_id in truth["pipeline-runs"]:
        assert re.fullmatch(r"(train|etl)-[a-z0-9-]+-\d{8}(-\d+)?", run_id), run_id
    assert any(m.endswith("-model") for m in truth["models"])
    cells = [c for t in truth["tests"].values() for c in t["cells"]]
    assert {"cell_number": 1, "name": "control"} in cells


def test_history_is_rich(world: World) -> None:
    truth = world.truth()["collections"]
    statuses = {i["status"] for i in truth["instances"].values()}
    assert statuses == {"staged", "production", "retired"}
    assert {t["status"] for t in truth["tests"].values()} >= {"ACTIVE", "CONCLUDED"}
    assert any(d["upstream_dataset_ids"] for d in truth["datasets"].values())
    derived_from_derived = [
        d
        for d in truth["datasets"].values()
        if any(truth["datasets"][u]["upstream_dataset_ids"] for u in d["upstream_dataset_ids"])
    ]
    assert derived_from_derived, "dataset chains should go raw -> derived -> derived"
    runs = truth["pipeline-runs"].values()
    assert any(r["ab_test_cells"] for r in runs)
    assert any(r["input_dataset_versions"] for r in runs)
    assert any(r["output_dataset_versions"] for r in runs)
    assert {r["status"] for r in runs} == {"running", "succeeded", "failed"}


def test_runs_read_versions_that_existed_when_they_started(world: World) -> None:
    truth = world.truth()["collections"]
    created = {
        (d, v["version"]): v["created_at"]
        for d, rec in truth["datasets"].items()
        for v in rec["versions"]
    }
    for run in truth["pipeline-runs"].values():
        for read in run["input_dataset_versions"]:
            assert created[read["dataset_id"], read["version"]] <= run["started_at"]


def test_initial_events_announce_every_entity_once(world: World) -> None:
    events = list(world.initial_events())
    thin = [e for e in events if not is_lineage(e)]
    targets = [event_target(e) for e in thin]
    assert len(targets) == len(set(targets))
    truth = world.truth()
    assert set(targets) == {(c, i) for c, records in truth["collections"].items() for i in records}
    assert all(e["event_type"] in EVENT_ID_FIELDS for e in thin)
    # then each landing run's START and COMPLETE, once
    told = [(e["run"]["runId"], e["eventType"]) for e in events[len(thin) :]]
    runs = truth["lineage"]["runs"]
    assert told == [(r["run_id"], kind) for r in runs for kind in ("START", "COMPLETE")]


def test_mutations_keep_the_world_consistent(world: World) -> None:
    world.mutate_many(800)
    assert _shape_problems(world) == []
    assert dangling_references(world.truth()) == []


def _stamps(world: World) -> dict[tuple[str, str], str]:
    truth = world.truth()["collections"]
    return {(c, i): world.updated_at(c, i) for c in COLLECTIONS for i in truth[c]}


def test_events_name_exactly_what_changed(world: World) -> None:
    """Every changed record is named by an event of its change, and nothing else is."""
    kinds: set[str] = set()
    for _ in range(300):
        before = world.truth()
        events = world.mutate()
        after = world.truth()
        changed = {
            (c, i)
            for c in COLLECTIONS
            for i in before["collections"][c].keys() | after["collections"][c].keys()
            if before["collections"][c].get(i) != after["collections"][c].get(i)
        }
        thin = [e for e in events if not is_lineage(e)]
        named = {event_target(e) for e in thin}
        assert changed == named, events
        for e in thin:
            assert set(EVENT_ID_FIELDS[e["event_type"]]) <= e.keys()
            kinds.add(e["event_type"])
        for collection, native_id in named - {
            (c, i) for c, ids in after["deleted"].items() for i in ids
        }:
            assert world.updated_at(collection, native_id) == rfc3339(world.now)
    assert kinds >= {
        "pipeline_run_started",
        "pipeline_run_completed",
        "pipeline_run_failed",
        "model_instance_created",
        "model_instance_updated",
        "model_instance_deleted",
        "model_updated",
        "dataset_version_created",
        "ab_test_updated",
        "feature_updated",
        "user_updated",
        "team_updated",
    }


def test_changes_only_move_time_forward(world: World) -> None:
    previous = _stamps(world)
    for _ in range(100):
        now = world.now
        world.mutate()
        assert world.now > now
        current = _stamps(world)
        assert all(current[key] >= stamp for key, stamp in previous.items() if key in current)
        previous = current


def test_dataset_version_events_name_an_existing_version(world: World) -> None:
    for event in world.mutate_many(300):
        if event.get("event_type") == "dataset_version_created":
            versions = world.record("datasets", event["dataset_id"])["versions"]
            assert event["version"] in {v["version"] for v in versions}


def _retired_instance(world: World) -> str:
    truth = world.truth()["collections"]
    return next(i for i, rec in truth["instances"].items() if rec["status"] == "retired")


def test_deleting_an_instance_updates_its_model(world: World) -> None:
    instance_id = _retired_instance(world)
    model_id = world.record("instances", instance_id)["model_id"]
    events = world.delete_instance(instance_id, world.now + 1)
    assert {"event_type": "model_instance_deleted", "instance_id": instance_id} in events
    assert {"event_type": "model_updated", "model_id": model_id} in events
    assert world.get("instances", instance_id) is None
    assert instance_id not in world.record("models", model_id)["instance_ids"]
    assert instance_id in world.truth()["deleted"]["instances"]
    assert dangling_references(world.truth()) == []


def test_a_training_run_registers_an_instance(world: World) -> None:
    model_id = next(iter(world.truth()["collections"]["models"]))
    run_id = world.start_run(world.trainer_of(model_id), world.now + 1)
    events = world.finish_run(run_id, world.now + 3600, succeeded=True)
    created = [e for e in events if e["event_type"] == "model_instance_created"]
    assert len(created) == 1
    instance = world.record("instances", created[0]["instance_id"])
    assert instance["pipeline_run_id"] == run_id and instance["status"] == "staged"
    assert world.record("models", model_id)["instance_ids"][-1] == instance["id"]
    assert {"event_type": "model_updated", "model_id": model_id} in events


def test_an_etl_run_writes_dataset_versions(world: World) -> None:
    etl = next(
        p for p in world.truth()["collections"]["pipelines"].values() if p["output_dataset_ids"]
    )
    run_id = world.start_run(etl["id"], world.now + 1)
    events = world.finish_run(run_id, world.now + 3600, succeeded=True)
    written = world.record("pipeline-runs", run_id)["output_dataset_versions"]
    assert [w["dataset_id"] for w in written] == etl["output_dataset_ids"]
    for w in written:
        assert {"event_type": "dataset_version_created", **w} in events
        assert world.record("datasets", w["dataset_id"])["versions"][-1]["version"] == w["version"]


def test_taking_a_run_out_of_a_cell(world: World) -> None:
    run_id = next(
        r
        for r, rec in world.truth()["collections"]["pipeline-runs"].items()
        if rec["ab_test_cells"]
    )
    cells = world.record("pipeline-runs", run_id)["ab_test_cells"]
    events = world.unassign_run(run_id, world.now + 1)
    assert len(world.record("pipeline-runs", run_id)["ab_test_cells"]) == len(cells) - 1
    assert events == [{"event_type": "pipeline_run_completed", "run_id": run_id}]


def test_promotion_retires_the_previous_current_instance(world: World) -> None:
    staged = next(
        i
        for i, rec in world.truth()["collections"]["instances"].items()
        if rec["status"] == "staged"
    )
    model_id = world.record("instances", staged)["model_id"]
    previous = world.record("models", model_id)["current_instance_id"]
    world.promote(staged, world.now + 1)
    assert world.record("models", model_id)["current_instance_id"] == staged
    assert world.record("instances", staged)["status"] == "production"
    if previous is not None:
        assert world.record("instances", previous)["status"] == "retired"


def test_truth_is_a_snapshot(world: World) -> None:
    truth = world.truth()
    frozen = json.dumps(truth, sort_keys=True)
    world.mutate_many(200)
    assert json.dumps(truth, sort_keys=True) == frozen
    assert truth != world.truth()
    truth["collections"]["teams"].clear()
    assert world.counts()["teams"] > 0


def test_truth_json_is_the_truth(world: World) -> None:
    world.mutate_many(20)
    assert json.loads(world.truth_json()) == world.truth()


def test_history_is_dated_across_2024_before_the_clock_starts(world: World) -> None:
    """``--as-of`` a day of 2024 finds the world as it was: entities carry the distinct
    past dates they were created on, spread over the year of history."""
    created = [
        r["created_at"]
        for records in world.truth()["collections"].values()
        for r in records.values()
        if r.get("created_at")
    ]
    assert min(created) < "2024-02" and max(created) <= rfc3339(EPOCH)
    months = {c[:7] for c in created}
    assert len(months) >= 10, months
    assert len(set(created)) > 0.8 * len(created), "dates are spread, not shared"
    assert all(
        world.updated_at(c, i) <= rfc3339(EPOCH)
        for c in COLLECTIONS
        for i in world.truth()["collections"][c]
    )


def test_a_live_world_dates_its_changes_now_and_changes_as_a_still_one() -> None:
    still, live = World.generate(300, seed=3), World.generate(300, seed=3)
    ticks = iter(range(EPOCH + 10 * DAY, EPOCH + 20 * DAY, 7))
    live.go_live(lambda: next(ticks))
    for _ in range(50):
        before = live.now
        events, live_events = still.mutate(), live.mutate()
        assert [event_kind(e) for e in events] == [event_kind(e) for e in live_events]
        assert live.now >= before and live.now >= EPOCH + 10 * DAY
        for e in (e for e in live_events if not is_lineage(e)):
            collection = next(c for c, f in EVENT_ID_FIELD.items() if f in e)
            if live.get(collection, e[EVENT_ID_FIELD[collection]]) is not None:
                assert live.updated_at(collection, e[EVENT_ID_FIELD[collection]]) == rfc3339(
                    live.now
                )
    assert still.now < EPOCH + 10 * DAY, "a world that is not live keeps its own clock"


def test_a_live_clock_that_stalls_never_takes_the_world_back() -> None:
    world = World.generate(300, seed=3)
    world.go_live(lambda: EPOCH - DAY)
    world.mutate()
    assert world.now == EPOCH
