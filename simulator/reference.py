"""The contract's example ids (contract 1.3), wired as its lineage describes (1.4), in every
generated world.

The README, docs/cli.md and ``mds ... --help`` ask their questions of these ids, so a
newcomer's copy of those commands answers against ``mdsd demo``:

- team ``personalization`` and its member ``alice`` (Alice Ng, alice@example.com), who owns
  all of the slice; its labels carry ``team=personalization``;
- dataset ``device-events`` (raw) -> ``playback-events``, built by ``playback-events-etl``;
- features ``watch-time-7d`` and ``skip-rate-7d``, computed from ``playback-events``;
- model ``ranking-model`` (``task=ranking``), trained on both by ``weekly-ranking-trainer``:
  on the Mondays of December 2024 (``train-weekly-ranking-20241202`` ...), registering
  ``v1`` to ``v4``, each promoted in turn; on 2025-01-01 ``train-weekly-ranking-20250101``
  reads ``playback-events@2025-01-01`` and registers ``ranking-model-v5-20250101`` (staged);
- A/B test ``12345``: cell 1 (control) runs v4's run, cell 2 (treatment) v5's, so
  enrichment infers that v5 is tested in 12345.

The slice takes the place of generated entities (``simulator.generate.REFERENCE_SHARE``), so
a world's size stays about what was asked. The living world changes it as it changes the rest (new runs
and instances, promotions, tiers; test 12345 may conclude), but never removes what the docs
name: v5 is never deleted, its run never leaves cell 2, alice never changes team, and
datasets, features, models and pipelines are never deleted at all.
"""

from __future__ import annotations

import calendar
from typing import NamedTuple

from simulator.clock import DAY
from simulator.organisation import Organisation

TEAM = "personalization"
USER = "alice"
RAW_DATASET = "device-events"
DATASET = "playback-events"
_SIGNALS = ("watch-time", "skip-rate")
FEATURES = tuple(f"{signal}-7d" for signal in _SIGNALS)
MODEL = "ranking-model"
TEST = "12345"
INSTANCE = "ranking-model-v5-20250101"
RUN = "train-weekly-ranking-20250101"

#: the trainer's run days: v1 to v4 on December's Mondays, v5 on 2025-01-01
_RUN_DAYS = ((2024, 12, 2), (2024, 12, 9), (2024, 12, 16), (2024, 12, 23), (2025, 1, 1))
_HOUR = 3600


class Built(NamedTuple):
    """What of the slice the generated structure may build on."""

    datasets: list[str]
    features: list[str]
    etl: str


def build(world: Organisation, start: int) -> Built:
    """The slice's person, datasets, ETL pipeline, features and model (with its trainer).

    Called while alice is her team's only member, so she owns all of it.
    """
    assert world.get("teams", TEAM) is not None, "the first team is personalization"
    world.new_user(start, [TEAM], name=(USER, "ng"))
    raw = world.new_dataset(start + 2 * DAY, TEAM, [], native_id=RAW_DATASET)
    dataset = world.new_dataset(start + 20 * DAY, TEAM, [raw], native_id=DATASET)
    etl = world.new_etl_pipeline(start + 20 * DAY, TEAM, [dataset])
    features = [
        world.new_feature(start + 25 * DAY, TEAM, [dataset], what=(signal, "7d", "user"))
        for signal in _SIGNALS
    ]
    world.new_model(start + 30 * DAY, TEAM, features, task="ranking", cadence="weekly")
    return Built([raw, dataset], features, etl)


def replay(world: Organisation, etl: str) -> None:
    """The slice's December and New Year's Day, in time order; after the generated history
    (which writes no dataset version after 2024-12-28), so every run reads the versions
    that existed when it started."""
    trainer = world.trainer_of(MODEL)
    world.new_test(MODEL, _at(2024, 12, 20, 10), test_id=TEST, treatments=1)
    for y, m, d in _RUN_DAYS:
        day = _at(y, m, d, 0)
        world.add_version(RAW_DATASET, day + _HOUR // 2)
        etl_run = world.start_run(etl, day + _HOUR)
        world.finish_run(etl_run, day + _HOUR + 40 * 60, succeeded=True)
        training_run = world.start_run(trainer, day + 2 * _HOUR)
        world.finish_run(training_run, day + 4 * _HOUR, succeeded=True)
        if (y, m, d) != _RUN_DAYS[-1]:
            world.promote(world.instances_of(MODEL)[-1], day + 5 * _HOUR)
    world.activate_test(TEST, _at(2025, 1, 1, 4) + 30 * 60)
    world.pools["retired"].exempt(INSTANCE)
    world.pools["in-cells"].exempt(RUN)
    world.pools["users"].exempt(USER)


def _at(year: int, month: int, day: int, hour: int) -> int:
    return calendar.timegm((year, month, day, hour, 0, 0))
