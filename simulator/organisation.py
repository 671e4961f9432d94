"""The operations that change the organisation: creators return the new id, transitions the
thin events they imply.

The same operations (``start_run``, ``finish_run``, ``promote``, ...) build the generated
history (``simulator.generate``) and drive the living world (``simulator.mutations``): what
a fresh world looks like and how it changes cannot drift apart.
"""

from __future__ import annotations

import itertools
from typing import Any

from simulator.clock import compact_day, day_of, rfc3339
from simulator.records import Event, Record, Records
from simulator.vocab import (
    CADENCES,
    DERIVATIONS,
    DOMAINS,
    ETL_NODES,
    FEATURE_ENTITIES,
    FEATURE_SIGNALS,
    FEATURE_WINDOWS,
    FIRST_NAMES,
    FRAMEWORKS,
    HYPOTHESES,
    LAST_NAMES,
    MODEL_TASKS,
    RAW_EVENTS,
    SCHEDULE_OF_CADENCE,
    TEAM_FOCUS,
    TIERS,
    TRAIN_NODES,
    TREATMENT_NAMES,
)

__all__ = ["Organisation"]


def _title(slug: str) -> str:
    return " ".join(word.capitalize() for word in slug.split("-"))


class Organisation(Records):
    """The records plus what they do not spell out (a team's domain, a model's trainer), and
    the operations that change them consistently."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        # domain facts the records do not spell out
        self._domain: dict[str, str] = {}  # team -> business domain
        self._stem: dict[str, str] = {}  # dataset -> the raw dataset its name derives from
        self._emails: dict[str, str] = {}  # email -> user id
        self._latest: dict[str, str] = {}  # dataset -> its latest version
        self._run_prefix: dict[str, str] = {}  # pipeline -> run id prefix
        self._reads: dict[str, list[str]] = {}  # pipeline -> datasets its runs read
        self._trainer: dict[str, str] = {}  # model -> training pipeline
        self._model_of: dict[str, str] = {}  # training pipeline -> model
        self._features_of: dict[str, list[str]] = {}  # model -> features it trains on
        self._next_version: dict[str, int] = {}  # model -> next instance version number
        self._tested_model: dict[str, str] = {}  # test -> model it compares
        self._last_test_number = 10_000

    def users_with_email(self, email: str) -> list[Record]:
        user_id = self._emails.get(email)
        return [self._records["users"][user_id]] if user_id is not None else []

    def instances_of(self, model_id: str) -> list[str]:
        return list(self._records["models"][model_id]["instance_ids"])

    def trainer_of(self, model_id: str) -> str:
        return self._trainer[model_id]

    def model_tested_by(self, test_id: str) -> str:
        return self._tested_model[test_id]

    def _owners(self, team_id: str) -> list[str]:
        members = self._records["teams"][team_id]["member_ids"]
        if not members:
            return []
        chosen = self.rng.sample(members, k=min(len(members), self.rng.choice((1, 1, 2))))
        return [f"{user_id}@example.com" for user_id in chosen]

    def _labels(self, team_id: str, **extra: str) -> list[dict[str, str]]:
        """A tier, the owning team (as platforms tag it: ``tag:team=...``) and ``extra``."""
        pairs = {"tier": self.rng.choice(TIERS), "team": team_id, **extra}
        return [{"key": k, "value": v} for k, v in pairs.items()]

    def _latest_versions(self, dataset_ids: list[str]) -> list[dict[str, str]]:
        latest = self._latest
        return [{"dataset_id": d, "version": latest[d]} for d in dataset_ids if d in latest]

    # identity

    def new_team(self, at: int) -> str:
        rng = self.rng
        n = len(self._records["teams"])
        domain = DOMAINS[n] if n < len(DOMAINS) else rng.choice(DOMAINS)
        base = domain if n < len(DOMAINS) else f"{domain}-{rng.choice(TEAM_FOCUS)}"
        team_id = self._unique("teams", base)
        self._domain[team_id] = domain
        return self._put("teams", {"id": team_id, "name": _title(team_id), "member_ids": []}, at)

    def new_user(self, at: int, team_ids: list[str], name: tuple[str, str] | None = None) -> str:
        """A member of ``team_ids``; ``name`` (first, last) is drawn unless given."""
        rng = self.rng
        first, last = name or (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        base = first if first not in self._taken["users"] else f"{first}{last}"
        user_id = self._unique("users", base)
        email = f"{user_id}@example.com"
        record = {
            "id": user_id,
            "name": f"{first.capitalize()} {last.capitalize()}",
            "email": email,
            "team_ids": list(team_ids),
        }
        self._emails[email] = user_id
        for team_id in team_ids:
            members = self._records["teams"][team_id]["member_ids"]
            self._update("teams", team_id, at, member_ids=[*members, user_id])
        return self._put("users", record, at)

    def move_user(self, user_id: str, to_team: str, at: int) -> list[Event]:
        """The user leaves their first team for ``to_team``."""
        teams = self._records["teams"]
        user = self._records["users"][user_id]
        from_team = user["team_ids"][0]
        team_ids = [to_team if t == from_team else t for t in user["team_ids"]]
        self._update("users", user_id, at, team_ids=list(dict.fromkeys(team_ids)))
        leaving = [m for m in teams[from_team]["member_ids"] if m != user_id]
        self._update("teams", from_team, at, member_ids=leaving)
        if user_id not in teams[to_team]["member_ids"]:
            self._update("teams", to_team, at, member_ids=[*teams[to_team]["member_ids"], user_id])
        return [
            self.event("users", user_id),
            self.event("teams", from_team),
            self.event("teams", to_team),
        ]

    # datasets

    def new_dataset(
        self, at: int, team_id: str, upstream_ids: list[str], native_id: str | None = None
    ) -> str:
        """A raw dataset, or one derived from ``upstream_ids``; named after them unless
        ``native_id`` names it (datasets derived from it are then named after it)."""
        rng = self.rng
        if upstream_ids:
            derivation = rng.choice(DERIVATIONS)
            stem = native_id or self._stem[upstream_ids[0]]
            base = native_id or f"{stem}-{derivation}"
            description = f"{derivation.capitalize()} view of {', '.join(upstream_ids)}."
        else:
            stem = base = native_id or f"{self._domain[team_id]}-{rng.choice(RAW_EVENTS)}"
            description = f"Raw {base} as emitted by production services, one partition a day."
        dataset_id = self._unique("datasets", base)
        self._stem[dataset_id] = stem
        record = {
            "id": dataset_id,
            "name": dataset_id,
            "description": description,
            "owner_emails": self._owners(team_id),
            "labels": self._labels(team_id, contains_pii=rng.choice(("true", "false"))),
            "upstream_dataset_ids": list(upstream_ids),
            "versions": [],
            "created_at": rfc3339(at),
        }
        if not upstream_ids:
            self.pools["raw"].add(dataset_id)
        return self._put("datasets", record, at)

    def add_version(self, dataset_id: str, at: int) -> Event:
        """A new dataset version (a partition landed): named by its date, unique per dataset."""
        versions = self._records["datasets"][dataset_id]["versions"]
        label = day_of(at)
        # versions are in time order: the day's are the last ones (all of them, or a sixth
        # partition of a day took the fifth's name, and its landing run repeated that one's)
        same_day = sum(
            1
            for _ in itertools.takewhile(
                lambda v: v["version"].startswith(label), reversed(versions)
            )
        )
        if same_day:
            label = f"{label}.{same_day + 1}"
        row_count = int(10 ** self.rng.uniform(3, 9))
        entry = {"version": label, "created_at": rfc3339(at), "row_count": row_count}
        self._update("datasets", dataset_id, at, versions=[*versions, entry])
        self._latest[dataset_id] = label
        return {"event_type": "dataset_version_created", "dataset_id": dataset_id, "version": label}

    # features

    def new_feature(
        self,
        at: int,
        team_id: str,
        source_ids: list[str],
        what: tuple[str, str, str] | None = None,
    ) -> str:
        """A feature computed from ``source_ids``: ``what`` (signal, window, entity) is drawn
        unless given; it is named ``{signal}-{window}``, prefixed if that is taken."""
        rng = self.rng
        signal, window, entity = what or (
            rng.choice(FEATURE_SIGNALS),
            rng.choice(FEATURE_WINDOWS),
            rng.choice(FEATURE_ENTITIES),
        )
        base = f"{signal}-{window}"
        if base in self._taken["features"]:
            base = f"{self._domain[team_id]}-{entity}-{base}"
        feature_id = self._unique("features", base)
        record = {
            "id": feature_id,
            "name": feature_id,
            "description": f"{_title(signal)} per {entity} over the last {window}, "
            f"computed from {', '.join(source_ids)}.",
            "owner_emails": self._owners(team_id),
            "labels": self._labels(team_id, entity=entity),
            "source_dataset_ids": list(source_ids),
            "versions": [{"version": "v1", "created_at": rfc3339(at)}],
            "created_at": rfc3339(at),
        }
        return self._put("features", record, at)

    def add_feature_version(self, feature_id: str, at: int) -> list[Event]:
        versions = self._records["features"][feature_id]["versions"]
        entry = {"version": f"v{len(versions) + 1}", "created_at": rfc3339(at)}
        self._update("features", feature_id, at, versions=[*versions, entry])
        return [self.event("features", feature_id)]

    # pipelines and runs

    def _new_pipeline(
        self,
        at: int,
        team_id: str,
        base: str,
        run_prefix: str,
        reads: list[str],
        description: str,
        **fields: Any,
    ) -> str:
        pipeline_id = self._unique("pipelines", base)
        self._run_prefix[pipeline_id] = run_prefix
        self._reads[pipeline_id] = reads
        record = {
            "id": pipeline_id,
            "name": pipeline_id,
            "description": description,
            "owner_emails": self._owners(team_id),
            **fields,
            "created_at": rfc3339(at),
        }
        return self._put("pipelines", record, at)

    def new_etl_pipeline(self, at: int, team_id: str, output_ids: list[str]) -> str:
        """The pipeline that builds ``output_ids`` from their upstream datasets."""
        datasets = self._records["datasets"]
        reads = list(
            dict.fromkeys(u for o in output_ids for u in datasets[o]["upstream_dataset_ids"])
        )
        return self._new_pipeline(
            at,
            team_id,
            base=f"{output_ids[0]}-etl",
            run_prefix=f"etl-{output_ids[0]}",
            reads=reads,
            description=f"Builds {', '.join(output_ids)} from {', '.join(reads)}.",
            schedule=SCHEDULE_OF_CADENCE["daily"],
            nodes=list(ETL_NODES),
            output_dataset_ids=list(output_ids),
        )

    def _cell_entry(self, test_id: str, cell_number: int) -> dict[str, Any]:
        """How a run refers to the A/B test cell it runs for."""
        cell = next(
            c for c in self._records["tests"][test_id]["cells"] if c["cell_number"] == cell_number
        )
        return {"test_id": test_id, "cell_number": cell_number, "cell_name": cell["name"]}

    def start_run(self, pipeline_id: str, at: int, for_cell: tuple[str, int] | None = None) -> str:
        """A run starts, reading the latest version of each dataset its pipeline reads.

        ``for_cell`` is the (test id, cell number) the run is for, if any.
        """
        run_id = self._unique("pipeline-runs", f"{self._run_prefix[pipeline_id]}-{compact_day(at)}")
        started = rfc3339(at)
        record = {
            "run_id": run_id,
            "pipeline": pipeline_id,
            "status": "running",
            "started_at": started,
            "ended_at": None,
            "input_dataset_versions": self._latest_versions(self._reads[pipeline_id]),
            "output_dataset_versions": [],
            "ab_test_cells": [self._cell_entry(*for_cell)] if for_cell else [],
            "attempts": [
                {"attempt": 1, "status": "running", "started_at": started, "ended_at": None}
            ],
        }
        self.pools["running"].add(run_id)
        if for_cell:
            self.pools["in-cells"].add(run_id)
        return self._put("pipeline-runs", record, at)

    def finish_run(self, run_id: str, at: int, succeeded: bool) -> list[Event]:
        """A running run ends: an ETL run writes dataset versions, a training run an instance."""
        run = self._records["pipeline-runs"][run_id]
        started = run["started_at"]
        ended = rfc3339(at)
        status = "succeeded" if succeeded else "failed"
        attempts = [{"attempt": 1, "status": status, "started_at": started, "ended_at": ended}]
        if succeeded and self.rng.random() < 0.1:  # a flaky first attempt, retried
            retried = rfc3339(at - self.rng.randint(1, 600))
            attempts = [
                {"attempt": 1, "status": "failed", "started_at": started, "ended_at": retried},
                {"attempt": 2, "status": status, "started_at": retried, "ended_at": ended},
            ]
        pipeline_id = run["pipeline"]
        outputs = self._records["pipelines"][pipeline_id]["output_dataset_ids"] if succeeded else []
        version_events = [self.add_version(d, at) for d in outputs]
        self._update(
            "pipeline-runs",
            run_id,
            at,
            status=status,
            ended_at=ended,
            attempts=attempts,
            output_dataset_versions=[
                {"dataset_id": e["dataset_id"], "version": e["version"]} for e in version_events
            ],
        )
        self.pools["running"].discard(run_id)
        events = [self.event("pipeline-runs", run_id), *version_events]
        model_id = self._model_of.get(pipeline_id)
        if succeeded and model_id is not None:
            instance_id = self._new_instance(model_id, run_id, at)
            events += [
                self.event("instances", instance_id, "created"),
                self.event("models", model_id),
            ]
        return events

    def unassign_run(self, run_id: str, at: int) -> list[Event]:
        """The run is taken out of one of the A/B test cells it ran for."""
        cells = list(self._records["pipeline-runs"][run_id]["ab_test_cells"])
        del cells[self.rng.randrange(len(cells))]
        self._update("pipeline-runs", run_id, at, ab_test_cells=cells)
        if not cells:
            self.pools["in-cells"].discard(run_id)
        return [self.event("pipeline-runs", run_id)]

    # models and instances

    def new_model(
        self,
        at: int,
        team_id: str,
        feature_ids: list[str],
        task: str | None = None,
        cadence: str | None = None,
    ) -> str:
        """A model and the pipeline that trains it on ``feature_ids``, named
        ``{task}-model`` and ``{cadence}-{task}-trainer``; both are drawn unless given."""
        rng = self.rng
        task = task or rng.choice(MODEL_TASKS)
        base = f"{task}-model"
        if base in self._taken["models"]:
            base = f"{self._domain[team_id]}-{base}"
        model_id = self._unique("models", base)
        owners = self._owners(team_id)
        record = {
            "id": model_id,
            "name": model_id,
            "description": f"Predicts {task.replace('-', ' ')} for {self._domain[team_id]}.",
            "owner_emails": owners,
            "labels": self._labels(team_id, task=task, framework=rng.choice(FRAMEWORKS)),
            "instance_ids": [],
            "current_instance_id": None,
            "created_at": rfc3339(at),
        }
        self._put("models", record, at)
        self._features_of[model_id] = list(feature_ids)
        self._next_version[model_id] = 1
        features = self._records["features"]
        reads = [d for f in feature_ids for d in features[f]["source_dataset_ids"]]
        cadence = cadence or rng.choice(CADENCES)
        stem = model_id.replace("-model", "")
        pipeline_id = self._new_pipeline(
            at,
            team_id,
            base=f"{cadence}-{stem}-trainer",
            run_prefix=f"train-{cadence}-{stem}",
            reads=list(dict.fromkeys(reads))[:6],
            description=f"Trains {model_id} {cadence} and registers the result.",
            schedule=SCHEDULE_OF_CADENCE[cadence],
            nodes=list(TRAIN_NODES),
            output_dataset_ids=[],
        )
        self._trainer[model_id] = pipeline_id
        self._model_of[pipeline_id] = model_id
        return model_id

    def _new_instance(self, model_id: str, run_id: str, at: int) -> str:
        model = self._records["models"][model_id]
        n = self._next_version[model_id]
        self._next_version[model_id] = n + 1
        features = self._features_of[model_id]
        if len(features) > 2 and self.rng.random() < 0.3:  # an ablation: one feature left out
            features = [f for f in features if f != self.rng.choice(features)]
        record = {
            "id": self._unique("instances", f"{model_id}-v{n}-{compact_day(at)}"),
            "model_id": model_id,
            "version": str(n),
            "pipeline_run_id": run_id,
            "feature_ids": list(features),
            "owner_emails": model["owner_emails"],
            "labels": model["labels"],
            "status": "staged",
            "deployed_at": None,
            "created_at": rfc3339(at),
        }
        instance_id = self._put("instances", record, at)
        self._update("models", model_id, at, instance_ids=[*model["instance_ids"], instance_id])
        self.pools["staged"].add(instance_id)
        return instance_id

    def promote(self, instance_id: str, at: int) -> list[Event]:
        """The instance goes to production; the model's previous current one is retired."""
        model_id = self._records["instances"][instance_id]["model_id"]
        previous = self._records["models"][model_id]["current_instance_id"]
        self._update("instances", instance_id, at, status="production", deployed_at=rfc3339(at))
        self.pools["staged"].discard(instance_id)
        self.pools["retired"].discard(instance_id)
        events = [self.event("instances", instance_id)]
        if previous is not None and previous != instance_id:
            self._update("instances", previous, at, status="retired")
            self.pools["retired"].add(previous)
            events.append(self.event("instances", previous))
        self._update("models", model_id, at, current_instance_id=instance_id)
        return [*events, self.event("models", model_id)]

    def delete_instance(self, instance_id: str, at: int) -> list[Event]:
        model_id = self._records["instances"][instance_id]["model_id"]
        model = self._records["models"][model_id]
        current = model["current_instance_id"]
        self._delete("instances", instance_id)
        for pool in ("staged", "retired"):
            self.pools[pool].discard(instance_id)
        self._update(
            "models",
            model_id,
            at,
            instance_ids=[i for i in model["instance_ids"] if i != instance_id],
            current_instance_id=None if current == instance_id else current,
        )
        return [self.event("instances", instance_id, "deleted"), self.event("models", model_id)]

    # experiments

    def new_test(
        self, model_id: str, at: int, test_id: str | None = None, treatments: int | None = None
    ) -> str:
        """A DRAFT A/B test comparing new instances of ``model_id`` against a control;
        numbered after the last one and with 1 to 3 treatment cells unless given."""
        rng = self.rng
        if test_id is None:
            self._last_test_number += rng.randint(1, 97)
            while str(self._last_test_number) in self._taken["tests"]:
                self._last_test_number += 1
            test_id = str(self._last_test_number)
        self._taken["tests"].add(test_id)
        hypothesis = rng.choice(HYPOTHESES)
        treatment_names = TREATMENT_NAMES[: treatments or rng.choice((1, 1, 2, 3))]
        model = self._records["models"][model_id]
        record = {
            "test_id": test_id,
            "name": f"{model_id}: {hypothesis}",
            "description": f"Compares {model_id} trained with {hypothesis} to production.",
            "status": "DRAFT",
            "owner_emails": model["owner_emails"],
            "cells": [
                {"cell_number": n, "name": name}
                for n, name in enumerate(("control", *treatment_names), start=1)
            ],
            "created_at": rfc3339(at),
        }
        self._tested_model[test_id] = model_id
        self.pools["draft"].add(test_id)
        return self._put("tests", record, at)

    def activate_test(self, test_id: str, at: int) -> list[Event]:
        """The test starts: the current instance's run serves control, newer runs the others."""
        test = self._records["tests"][test_id]
        model = self._records["models"][self._tested_model[test_id]]
        instances = self._records["instances"]
        recent = [i for i in reversed(model["instance_ids"]) if i != model["current_instance_id"]]
        if model["current_instance_id"] is not None:
            recent.insert(0, model["current_instance_id"])
        runs = list(dict.fromkeys(instances[i]["pipeline_run_id"] for i in recent))
        self._update("tests", test_id, at, status="ACTIVE")
        self.pools["draft"].discard(test_id)
        self.pools["active"].add(test_id)
        events = [self.event("tests", test_id)]
        for cell, run_id in zip(test["cells"], runs, strict=False):
            events += self.assign_run(run_id, test_id, cell["cell_number"], at)
        return events

    def assign_run(self, run_id: str, test_id: str, cell_number: int, at: int) -> list[Event]:
        """The run now serves one cell of a test."""
        entry = self._cell_entry(test_id, cell_number)
        cells = self._records["pipeline-runs"][run_id]["ab_test_cells"]
        if entry in cells:
            return []
        self._update("pipeline-runs", run_id, at, ab_test_cells=[*cells, entry])
        self.pools["in-cells"].add(run_id)
        return [self.event("pipeline-runs", run_id)]

    def conclude_test(self, test_id: str, at: int) -> list[Event]:
        self._update("tests", test_id, at, status="CONCLUDED")
        self.pools["active"].discard(test_id)
        return [self.event("tests", test_id)]

    def delete_test(self, test_id: str) -> list[Event]:
        """Only drafts are deleted: no run has served them, so nothing refers to them."""
        self._delete("tests", test_id)
        self.pools["draft"].discard(test_id)
        return [self.event("tests", test_id, "deleted")]

    # any labeled entity

    def retier(self, collection: str, native_id: str, at: int) -> list[Event]:
        """The entity moves to another tier (its ``tier`` label changes)."""
        labels = self._records[collection][native_id]["labels"]
        tier = self.rng.choice(TIERS)
        changed = [{"key": "tier", "value": tier} if lb["key"] == "tier" else lb for lb in labels]
        self._update(collection, native_id, at, labels=changed)
        return [self.event(collection, native_id)]
