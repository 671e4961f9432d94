"""The hand-built organisation the conformance platform serves, and the events naming it.

Small enough to reason about by hand, and shaped to touch every edge of contract 1.2/1.3:

* optional fields absent in some payloads, ``null`` in others; empty lists; unknown fields
* timestamps as ``Z``, ``+00:00``, ``+02:00``, fractional (ms and ns), lowercase ``t``/``z``
* owner emails in another case than the user's, one nobody has (``ghost@``), one whose
  lookup also answers a longer address (``ann@example.com`` vs ``ann@example.com.au``),
  and one whose lookup answers two users, neither of them with that email
* a team membership stated only by the team's ``member_ids`` (the user has no ``team_ids``)
* a derivation chain deep enough that only a transitive walk reaches its end (``firehose``)
* a run reading a dataset version the datasets source does not list (a stub forever)
* ModelInstance -> PipelineRun -> AbTestCell -> AbTest, so ``tested_in`` must be inferred
* entities no event names (found through references, or only by reconciliation)
"""

from __future__ import annotations

from typing import Any

from tests.conformance.expect import uri
from tests.conformance.platform import Organisation

#: the entities the tests name: the tested_in chain (instance, run, cell, test) and the
#: raw dataset at the head of its lineage
V5 = uri("model-instance", "ranking-model-v5")
MODEL = uri("model", "ranking-model")
RUN = uri("pipeline-run", "train-001")
TEST = uri("ab-test", "12345")
CELL = uri("ab-test-cell", "12345/2")
RAW = uri("dataset", "raw-events")

Event = dict[str, Any]

ALICE = "alice@example.com"


def organisation() -> Organisation:
    org = Organisation()
    put = org.put

    # -- identity -------------------------------------------------------------------------
    put(
        "users",
        {"id": "alice", "name": "Alice Liddell", "email": ALICE, "team_ids": ["personalization"]},
    )
    put(
        "users",
        {
            "id": "bob",
            "name": "Bob",
            "email": "Bob@Example.COM",
            "team_ids": ["personalization"],
            "phone": "+1 555",
        },
    )
    put("users", {"id": "ann", "name": "Ann", "email": "ann@example.com", "team_ids": None})
    put("users", {"id": "ann-au", "name": "Ann (AU)", "email": "ann@example.com.au"})
    put("users", {"id": "carol", "name": None, "email": "carol@example.com", "team_ids": []})
    put(
        "teams",
        {"id": "personalization", "name": "Personalization", "member_ids": ["alice", "bob"]},
    )
    # ann's payload has no team_ids: only the team's member list says she is in it
    put(
        "teams",
        {"id": "search", "name": "Search", "member_ids": ["ann"], "slack": "#search"},
    )
    put("teams", {"id": "empty-team", "member_ids": []})

    # -- datasets: firehose <- clickstream <- bronze <- raw-events <- sessions <- ... ------
    put("datasets", {
        "id": "firehose", "name": "Firehose", "description": None,
        "owner_emails": ["carol@example.com", "ann@example.co"], "labels": [],
        "upstream_dataset_ids": [], "versions": [],
        "created_at": "2024-12-01T00:00:00Z", "updated_at": "2024-12-01T00:00:00Z",
    })  # fmt: skip
    put("datasets", {
        "id": "clickstream", "name": "Clickstream", "upstream_dataset_ids": ["firehose"],
        "created_at": "2024-12-02 00:00:00Z", "updated_at": "2025-01-06t09:30:00z",
    })  # fmt: skip
    put("datasets", {
        "id": "bronze", "name": "Bronze events", "upstream_dataset_ids": ["clickstream"],
        "versions": None, "labels": None, "owner_emails": None,
        "created_at": "2024-12-03T00:00:00.5+00:00", "updated_at": "2024-12-03T00:00:00.5+00:00",
    })  # fmt: skip
    put("datasets", {
        "id": "raw-events", "name": "Raw playback events", "description": "Every play, raw",
        "owner_emails": [ALICE, "ghost@example.com"],
        "labels": [{"key": "tier", "value": "gold"}, {"key": "pii", "value": "no"}],
        "upstream_dataset_ids": ["bronze"],
        "versions": [
            {"version": "2025-01-01", "created_at": "2025-01-01T00:00:00Z", "row_count": 100},
            {"version": "2025-01-02", "created_at": "2025-01-02T01:00:00+01:00"},
        ],
        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T01:00:00+01:00",
        "x-internal": {"shard": 3},
    })  # fmt: skip
    put("datasets", {
        "id": "sessions", "name": "Sessions", "description": "Sessionized events",
        "owner_emails": ["carol@example.com"], "labels": [],
        "upstream_dataset_ids": ["raw-events"],
        "versions": [{"version": "v1", "created_at": "2025-01-03T02:00:00+02:00", "row_count": None}],
        "created_at": "2025-01-03T00:00:00Z", "updated_at": "2025-01-03T02:00:00+02:00",
    })  # fmt: skip
    put("datasets", {
        "id": "sessions-daily", "name": "Daily sessions", "upstream_dataset_ids": ["sessions"],
        "owner_emails": ["ann@example.com"],
        "versions": [], "created_at": "2025-01-03T00:00:00Z", "updated_at": "2025-01-03T00:00:00Z",
    })  # fmt: skip
    put("datasets", {
        "id": "sessions-weekly", "name": "Weekly sessions", "upstream_dataset_ids": ["sessions-daily"],
        "created_at": "2025-01-03T00:00:00Z", "updated_at": "2025-01-03T00:00:00.123456789Z",
    })  # fmt: skip
    put("datasets", {
        "id": "legacy-dump", "name": "Legacy dump", "upstream_dataset_ids": [],
        "versions": [{"version": "1", "created_at": "2020-01-01T00:00:00Z", "row_count": 5}],
        "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z",
    })  # fmt: skip

    # -- features -------------------------------------------------------------------------
    put("features", {
        "id": "watch-time-7d", "name": "Watch time, 7 days", "owner_emails": ["BOB@example.com"],
        "source_dataset_ids": ["sessions-weekly"],
        "versions": [
            {"version": 1, "created_at": "2025-01-04T00:00:00Z"},
            {"version": 2, "created_at": "2025-01-05T00:00:00+05:30"},
        ],
        "created_at": "2025-01-04T00:00:00Z", "updated_at": "2025-01-05T00:00:00+05:30",
    })  # fmt: skip
    put("features", {
        "id": "ctr-1d", "name": "CTR, 1 day", "owner_emails": ["ann@example.com"],
        "source_dataset_ids": None, "versions": [], "labels": [{"key": "team", "value": "search"}],
        "created_at": "2025-01-04T00:00:00Z", "updated_at": None,
    })  # fmt: skip

    # -- orchestrator ---------------------------------------------------------------------
    put("pipelines", {
        "id": "etl", "name": "Sessionizer", "description": "Turns plays into sessions",
        "owner_emails": ["carol@example.com"], "schedule": "0 * * * *",
        "nodes": [{"name": "read", "depends_on": []}, {"name": "write", "depends_on": ["read"]}],
        "output_dataset_ids": ["sessions"],
        "created_at": "2024-12-01T00:00:00Z", "updated_at": "2024-12-01T00:00:00Z",
    })  # fmt: skip
    put("pipelines", {
        "id": "weekly-trainer", "name": "Weekly ranking trainer", "owner_emails": [ALICE],
        "schedule": None, "nodes": [], "output_dataset_ids": [],
        "created_at": "2024-12-01T00:00:00Z", "updated_at": "2024-12-01T00:00:00Z",
    })  # fmt: skip
    put("pipeline-runs", {
        "run_id": "etl-run-1", "pipeline": "etl", "status": "succeeded",
        "started_at": "2025-01-03T00:00:00Z", "ended_at": "2025-01-03T00:10:00Z",
        "input_dataset_versions": [{"dataset_id": "raw-events", "version": "2025-01-01"}],
        "output_dataset_versions": [{"dataset_id": "sessions", "version": "v1"}],
        "ab_test_cells": [],
        "attempts": [{"attempt": 1, "status": "succeeded", "started_at": "2025-01-03T00:00:00Z", "ended_at": "2025-01-03T00:10:00Z"}],
    })  # fmt: skip
    put("pipeline-runs", {
        "run_id": "train-001", "pipeline": "weekly-trainer", "status": "succeeded",
        "started_at": "2025-01-04T00:00:00+02:00", "ended_at": None,
        "input_dataset_versions": [
            {"dataset_id": "sessions", "version": "v1"},
            {"dataset_id": "raw-events", "version": "2024-12-31"},  # no longer listed
        ],
        "ab_test_cells": [{"test_id": "12345", "cell_number": 2, "cell_name": "treatment"}],
        "attempts": [
            {"attempt": 1, "status": "failed", "started_at": "2025-01-04T00:00:00Z", "ended_at": None},
            {"attempt": 2, "status": "succeeded", "started_at": "2025-01-04T01:00:00Z"},
        ],
    })  # fmt: skip
    put("pipeline-runs", {
        "run_id": "train-002", "pipeline": "weekly-trainer", "status": "running",
        "started_at": "2025-01-11T00:00:00Z", "input_dataset_versions": [], "ab_test_cells": None,
    })  # fmt: skip

    # -- experiments ----------------------------------------------------------------------
    put("tests", {
        "test_id": "12345", "name": "Ranking v5 vs v4", "description": "Home page ranking",
        "status": "ACTIVE", "owner_emails": [ALICE],
        "cells": [{"cell_number": 1, "name": "control"}, {"cell_number": 2, "name": "treatment"}],
        "created_at": "2025-01-04T08:00:00+02:00", "updated_at": "2025-01-04T08:00:00.5+02:00",
    })  # fmt: skip
    put("tests", {"test_id": "777", "name": "Empty test", "status": "DRAFT", "cells": []})

    # -- registry -------------------------------------------------------------------------
    put("models", {
        "id": "ranking-model", "name": "Ranking model", "description": "Ranks the home page",
        "owner_emails": [ALICE, "ghost@example.com"], "labels": [{"key": "domain", "value": "home"}],
        "instance_ids": ["ranking-model-v5", "ranking-model-v6"],
        "current_instance_id": "ranking-model-v5",
        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-03-01T12:00:00+02:00",
        "x-extra": [1, 2],
    })  # fmt: skip
    put("instances", {
        "id": "ranking-model-v5", "model_id": "ranking-model", "version": 5,
        "pipeline_run_id": "train-001", "feature_ids": ["watch-time-7d", "ctr-1d"],
        "owner_emails": [], "labels": [], "status": "production",
        "deployed_at": "2025-01-05T10:00:00.123456789Z",
        "created_at": "2025-01-05T10:00:00Z", "updated_at": "2025-01-05T12:00:00+02:00",
    })  # fmt: skip
    put("instances", {
        "id": "ranking-model-v6", "model_id": "ranking-model", "version": "6",
        "pipeline_run_id": None, "feature_ids": None, "status": "staged",
        "created_at": "2025-01-12T00:00:00Z", "updated_at": "2025-01-12T00:00:00Z",
    })  # fmt: skip
    # named by no event and no reference: only reconciliation can find it
    put("models", {
        "id": "churn-model", "name": "Churn", "owner_emails": ["ann@example.com"],
        "instance_ids": [], "current_instance_id": None, "created_at": None, "updated_at": None,
    })  # fmt: skip
    return org


def initial_events() -> list[Event]:
    """One event per unit a change feed would have announced. Deliberately missing:
    ``firehose``, ``carol`` (reached through references) and ``churn-model``,
    ``ann-au`` (reached only by reconciliation)."""
    return [
        {"event_type": "user_updated", "user_id": "alice"},
        {"event_type": "user_updated", "user_id": "bob", "emitted_at": "2025-01-01T00:00:00Z"},
        {"event_type": "user_updated", "user_id": "ann"},
        {"event_type": "team_updated", "team_id": "personalization"},
        {"event_type": "team_updated", "team_id": "empty-team"},
        {"event_type": "team_updated", "team_id": "search"},
        {"event_type": "dataset_created", "dataset_id": "clickstream"},
        {"event_type": "dataset_created", "dataset_id": "bronze", "event_id": "ds-bronze"},
        {"event_type": "dataset_created", "dataset_id": "raw-events"},
        {"event_type": "dataset_version_created", "dataset_id": "raw-events", "version": "2025-01-02"},
        {"event_type": "dataset_updated", "dataset_id": "sessions", "emitted_at": "2025-01-03t00:00:00.5z"},
        {"event_type": "dataset_created", "dataset_id": "sessions-daily"},
        {"event_type": "dataset_created", "dataset_id": "sessions-weekly", "unknown": {"x": 1}},
        {"event_type": "dataset_created", "dataset_id": "legacy-dump"},
        {"event_type": "feature_created", "feature_id": "watch-time-7d"},
        {"event_type": "feature_updated", "feature_id": "ctr-1d", "emitted_at": "2025-01-04T00:00:00+02:00"},
        {"event_type": "pipeline_created", "pipeline_id": "etl"},
        {"event_type": "pipeline_updated", "pipeline_id": "weekly-trainer"},
        {"event_type": "pipeline_run_started", "run_id": "etl-run-1"},
        {"event_type": "pipeline_run_completed", "run_id": "etl-run-1"},
        {"event_type": "pipeline_run_completed", "run_id": "train-001"},
        {"event_type": "pipeline_run_started", "run_id": "train-002"},
        {"event_type": "ab_test_created", "test_id": "12345"},
        {"event_type": "ab_test_created", "test_id": "777"},
        {"event_type": "model_created", "model_id": "ranking-model", "event_id": "m-1"},
        {"event_type": "model_instance_created", "instance_id": "ranking-model-v5"},
        {"event_type": "model_instance_created", "instance_id": "ranking-model-v6"},
    ]  # fmt: skip


#: what no event and no reference names: only reconciliation finds these
UNANNOUNCED = frozenset({"aip://model/registry/churn-model", "aip://user/identity/ann-au"})

#: inputs the daemon must reject into the dead letters (contract 1.1), as raw lines
MALFORMED: list[str] = [
    "this is not json",
    '{"event_type": "model_created"}',
    '{"event_type": "model_created", "model_id": 42}',
    '{"event_type": "model_exploded", "model_id": "ranking-model"}',
    '{"event_type": "dataset_version_created", "dataset_id": "raw-events"}',
    '{"model_id": "ranking-model"}',
    '{"event_type": "feature_updated", "feature_id": ""}',
    '["model_created", "ranking-model"]',
]
