"""The living world: realistic changes, picked by weight, each returning the events it implies.

Each mutation picks what it changes from the world's pools and returns None when nothing
qualifies (no run is running, no test is a draft); a new run always qualifies and stands in.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulator.lineage import landing_run, run_events
from simulator.organisation import Organisation
from simulator.records import Event

Mutation = Callable[[Organisation, random.Random, int], "list[Event] | None"]

#: beyond this many running runs, a new run gives way to finishing one
MAX_RUNNING = 40


def start_run(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """A pipeline starts a run; a quarter of them train a candidate for an active A/B test."""
    if len(world.pools["running"]) >= MAX_RUNNING:
        return finish_run(world, rng, at)
    test_id = world.pools["active"].choice(rng) if rng.random() < 0.25 else None
    if test_id is None:
        pipeline_id = world.pools["pipelines"].choice(rng)
        assert pipeline_id is not None, "a world always has pipelines"
        run_id = world.start_run(pipeline_id, at)
    else:
        treatments = world.record("tests", test_id)["cells"][1:]
        cell_number = rng.choice(treatments)["cell_number"] if treatments else 1
        pipeline_id = world.trainer_of(world.model_tested_by(test_id))
        run_id = world.start_run(pipeline_id, at, for_cell=(test_id, cell_number))
    return [world.event("pipeline-runs", run_id)]


def finish_run(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    run_id = world.pools["running"].choice(rng)
    return None if run_id is None else world.finish_run(run_id, at, rng.random() < 0.85)


def ingest(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """A new partition of a raw dataset lands; its landing job says so in OpenLineage."""
    dataset_id = world.pools["raw"].choice(rng)
    if dataset_id is None:
        return None
    announced = world.add_version(dataset_id, at)
    dataset = world.record("datasets", dataset_id)
    return [announced, *run_events(landing_run(dataset, dataset["versions"][-1]))]


def promote(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    instance_id = world.pools["staged"].choice(rng)
    return None if instance_id is None else world.promote(instance_id, at)


def draft_test(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    model_id = world.pools["models"].choice(rng)
    if model_id is None or not world.instances_of(model_id):
        return None
    return [world.event("tests", world.new_test(model_id, at), "created")]


def start_test(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    test_id = world.pools["draft"].choice(rng)
    return None if test_id is None else world.activate_test(test_id, at)


def conclude_test(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    test_id = world.pools["active"].choice(rng)
    return None if test_id is None else world.conclude_test(test_id, at)


def delete_test(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    test_id = world.pools["draft"].choice(rng)
    return None if test_id is None else world.delete_test(test_id)


def unassign_run(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """A run is taken out of an A/B test cell (its tested-in inference must be retracted)."""
    run_id = world.pools["in-cells"].choice(rng)
    return None if run_id is None else world.unassign_run(run_id, at)


def delete_instance(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """A retired model instance is garbage-collected from the registry."""
    instance_id = world.pools["retired"].choice(rng)
    return None if instance_id is None else world.delete_instance(instance_id, at)


def version_feature(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    feature_id = world.pools["features"].choice(rng)
    return None if feature_id is None else world.add_feature_version(feature_id, at)


def retier(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    collection = rng.choice(("models", "instances", "datasets", "features"))
    native_id = world.pools[collection].choice(rng)
    return None if native_id is None else world.retier(collection, native_id, at)


def move_user(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """Someone changes teams (never leaving a team empty)."""
    user_id, to_team = world.pools["users"].choice(rng), world.pools["teams"].choice(rng)
    if user_id is None or to_team is None:
        return None
    team_ids = world.record("users", user_id)["team_ids"]
    if to_team in team_ids or len(world.record("teams", team_ids[0])["member_ids"]) < 2:
        return None
    return world.move_user(user_id, to_team, at)


def _pick(world: Organisation, rng: random.Random, pool: str, most: int) -> list[str]:
    """Up to ``most`` distinct ids from a pool."""
    picked = (world.pools[pool].choice(rng) for _ in range(rng.randint(1, most)))
    return list(dict.fromkeys(i for i in picked if i is not None))


def new_feature(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    team_id = world.pools["teams"].choice(rng)
    assert team_id is not None, "a world always has teams"
    feature_id = world.new_feature(at, team_id, _pick(world, rng, "datasets", 2))
    return [world.event("features", feature_id, "created")]


def new_model(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """A new model, with the pipeline that will train it."""
    team_id = world.pools["teams"].choice(rng)
    assert team_id is not None, "a world always has teams"
    model_id = world.new_model(at, team_id, _pick(world, rng, "features", 6))
    return [
        world.event("models", model_id, "created"),
        world.event("pipelines", world.trainer_of(model_id), "created"),
    ]


def new_derived_dataset(world: Organisation, rng: random.Random, at: int) -> list[Event] | None:
    """A new derived dataset, with the ETL pipeline that builds it."""
    team_id = world.pools["teams"].choice(rng)
    assert team_id is not None, "a world always has teams"
    dataset_id = world.new_dataset(at, team_id, _pick(world, rng, "datasets", 2))
    pipeline_id = world.new_etl_pipeline(at, team_id, [dataset_id])
    return [
        world.event("datasets", dataset_id, "created"),
        world.event("pipelines", pipeline_id, "created"),
    ]


#: (mutation, weight): runs and data dominate, structural change is rare
MUTATIONS: tuple[tuple[Mutation, int], ...] = (
    (start_run, 20),
    (finish_run, 20),
    (ingest, 10),
    (retier, 8),
    (promote, 6),
    (version_feature, 5),
    (move_user, 4),
    (draft_test, 3),
    (start_test, 3),
    (conclude_test, 3),
    (unassign_run, 3),
    (delete_instance, 3),
    (new_feature, 2),
    (delete_test, 1),
    (new_model, 1),
    (new_derived_dataset, 1),
)
_FUNCTIONS = [m for m, _ in MUTATIONS]
_WEIGHTS = [w for _, w in MUTATIONS]


def apply_one(world: Organisation, rng: random.Random, at: int) -> list[Event]:
    """Apply one weighted-random mutation at time ``at``; its events (never empty)."""
    (mutation,) = rng.choices(_FUNCTIONS, weights=_WEIGHTS)
    events = mutation(world, rng, at) or start_run(world, rng, at)
    assert events, "starting a run always succeeds"
    return events
