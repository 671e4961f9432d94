"""Build a world's year of history before ``EPOCH``, using the world's own operations.

Structure first (teams, the reference slice's part, people, raw and layered datasets with
their ETL pipelines, features, models with their trainers), then a time-ordered simulation:
raw partitions land, runs start and later finish (writing dataset versions or registering
model instances, some promoted); then the reference slice's December and New Year's Day
(``simulator.reference``), and finally A/B tests are drafted, started and concluded over
recent runs.
"""

from __future__ import annotations

import heapq
from dataclasses import astuple, dataclass

from simulator import reference
from simulator.clock import DAY, EPOCH
from simulator.organisation import Organisation

HISTORY_DAYS = 365
#: per derived dataset layer: its share of the ETL pipelines, and the days after the start
#: of history its pipelines appear (so the layer below already has versions to read)
_LAYERS = ((0.5, 20), (0.3, 40), (0.2, 60))


@dataclass(frozen=True, slots=True)
class Plan:
    """How many of each root entity a world of ``size`` entities gets.

    Runs, instances, dataset versions and cells follow from these through the history, so
    the shares are tuned for the total (records + versions + cells) to land near ``size``:
    a model brings ~25 entities (trainer, runs, instances), an ETL pipeline ~14, a raw
    dataset ~7, a test ~3.5.
    """

    teams: int
    users: int
    raw_datasets: int
    etl_pipelines: int
    features: int
    models: int
    tests: int

    @classmethod
    def for_size(cls, size: int) -> Plan:
        def share(fraction: float, minimum: int) -> int:
            return max(minimum, round(size * fraction))

        return cls(
            teams=share(0.005, 2),
            users=share(0.06, 3),
            raw_datasets=share(0.02, 2),
            etl_pipelines=share(0.02, 1),
            features=share(0.06, 3),
            models=share(0.016, 1),
            tests=share(0.015, 1),
        )

    def minus(self, other: Plan) -> Plan:
        return Plan(*(max(0, a - b) for a, b in zip(astuple(self), astuple(other), strict=True)))


#: what the reference slice stands in for, so that ``size`` keeps its meaning
REFERENCE_SHARE = Plan(
    teams=0, users=1, raw_datasets=1, etl_pipelines=1, features=2, models=1, tests=1
)


def _run_days(world: Organisation, first_day: int, last_day: int, count: int) -> list[int]:
    """Distinct days for a pipeline's runs, so one run ends before the next starts."""
    span = range(first_day, last_day)
    return world.rng.sample(span, k=min(count, len(span)))


def populate(world: Organisation, size: int) -> None:
    plan = Plan.for_size(size).minus(REFERENCE_SHARE)
    rng = world.rng
    start = EPOCH - HISTORY_DAYS * DAY
    first_day, last_day = start // DAY, EPOCH // DAY - 3

    teams = [world.new_team(start) for _ in range(plan.teams)]
    slice_ = reference.build(world, start)
    for i in range(plan.users):
        team_ids = [teams[i]] if i < len(teams) else [rng.choice(teams)]
        if rng.random() < 0.1:
            team_ids = list(dict.fromkeys([*team_ids, rng.choice(teams)]))
        world.new_user(start, team_ids)

    raw = [
        world.new_dataset(start + rng.randrange(30 * DAY), rng.choice(teams), [])
        for _ in range(plan.raw_datasets)
    ]
    datasets, below = [*slice_.datasets, *raw], raw
    etl: list[tuple[str, int]] = []  # (pipeline, day of its first run)
    for layer, (layer_share, offset_days) in enumerate(_LAYERS):
        made: list[str] = []
        count = round(plan.etl_pipelines * layer_share)
        if layer == 0:  # the first layer takes what rounding leaves out of the others
            count = max(count, min(plan.etl_pipelines, 1))
        for _ in range(count):
            created = start + offset_days * DAY + rng.randrange(20 * DAY)
            team = rng.choice(teams)
            outputs = [
                world.new_dataset(
                    created, team, list(dict.fromkeys([rng.choice(below), rng.choice(datasets)]))
                )
                for _ in range(rng.choice((1, 1, 2)))
            ]
            etl.append((world.new_etl_pipeline(created, team, outputs), created // DAY + 1))
            made += outputs
        datasets += made
        below = made or below

    features = slice_.features + [
        world.new_feature(
            start + rng.randrange(60 * DAY),
            rng.choice(teams),
            list(dict.fromkeys(rng.choice(datasets) for _ in range(rng.choice((1, 2))))),
        )
        for _ in range(plan.features)
    ]
    trainers: list[tuple[str, int]] = []
    models: list[str] = []
    for _ in range(plan.models):
        created = start + rng.randrange(90 * DAY)
        chosen = rng.sample(features, k=min(len(features), rng.randint(3, 8)))
        model_id = world.new_model(created, rng.choice(teams), chosen)
        models.append(model_id)
        trainers.append((world.trainer_of(model_id), created // DAY + 1))

    _simulate_history(world, raw, etl, trainers, first_day, last_day)
    reference.replay(world, slice_.etl)
    _run_tests(world, models, plan.tests)
    pipelines = [slice_.etl, *(p for p, _ in trainers + etl)]
    for pipeline_id in rng.sample(pipelines, k=max(1, len(pipelines) // 50)):
        world.start_run(pipeline_id, EPOCH - rng.randrange(1, 3600))


_INGEST, _RUN = 0, 1


def _simulate_history(
    world: Organisation,
    raw: list[str],
    etl: list[tuple[str, int]],
    trainers: list[tuple[str, int]],
    first_day: int,
    last_day: int,
) -> None:
    """Replay the year in time order, so every run reads versions that existed when it began.

    Planned starts are sorted once; only the runs in flight sit in a heap (a heap of every
    event is several times slower at a million entities: it is memory-bound).
    """
    rng = world.rng
    planned: list[tuple[int, int, str]] = []
    for dataset_id in raw:
        for day in _run_days(world, first_day + 30, last_day, rng.randint(2, 10)):
            planned.append((day * DAY + rng.randrange(3 * 3600), _INGEST, dataset_id))
    for pipelines, runs in ((etl, (2, 8)), (trainers, (4, 20))):
        for pipeline_id, first in pipelines:
            for day in _run_days(world, first, last_day, rng.randint(*runs)):
                planned.append((day * DAY + rng.randrange(3 * 3600, 8 * 3600), _RUN, pipeline_id))
    planned.sort()
    in_flight: list[tuple[int, str]] = []  # (ends at, run id)
    for at, kind, target in [*planned, (EPOCH, _INGEST, "")]:
        while in_flight and in_flight[0][0] <= at:
            ended, run_id = heapq.heappop(in_flight)
            for event in world.finish_run(run_id, ended, succeeded=rng.random() < 0.9):
                if event["event_type"] == "model_instance_created" and rng.random() < 0.7:
                    world.promote(event["instance_id"], ended)
        if kind == _RUN:
            run_id = world.start_run(target, at)
            heapq.heappush(in_flight, (at + rng.randint(600, 4 * 3600), run_id))
        elif target:
            world.add_version(target, at)


def _run_tests(world: Organisation, models: list[str], count: int) -> None:
    """Tests drafted over the last month; most started two days ago, about half concluded."""
    rng = world.rng
    candidates = [m for m in models if world.instances_of(m)] or models
    for _ in range(count if candidates else 0):
        started = EPOCH - 2 * DAY + rng.randrange(DAY)
        test_id = world.new_test(rng.choice(candidates), started - rng.randrange(DAY, 30 * DAY))
        if rng.random() < 0.15:
            continue
        world.activate_test(test_id, started)
        if rng.random() < 0.55:
            world.conclude_test(test_id, started + rng.randrange(3600, DAY))
