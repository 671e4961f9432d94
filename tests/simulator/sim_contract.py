"""Checks of simulator output against contract section 1, shared by the simulator tests."""

from __future__ import annotations

import re
from typing import Any

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

#: collection -> keys every record must have (contract 1.2)
REQUIRED: dict[str, set[str]] = {
    "models": {"id", "name", "description", "owner_emails", "labels", "instance_ids",
               "current_instance_id", "created_at", "updated_at"},
    "instances": {"id", "model_id", "version", "pipeline_run_id", "feature_ids", "owner_emails",
                  "labels", "status", "deployed_at", "created_at", "updated_at"},
    "pipelines": {"id", "name", "description", "owner_emails", "schedule", "nodes",
                  "output_dataset_ids", "created_at", "updated_at"},
    "pipeline-runs": {"run_id", "pipeline", "status", "started_at", "ended_at",
                      "input_dataset_versions", "output_dataset_versions", "ab_test_cells",
                      "attempts"},
    "features": {"id", "name", "description", "owner_emails", "labels", "source_dataset_ids",
                 "versions", "created_at", "updated_at"},
    "tests": {"test_id", "name", "description", "status", "owner_emails", "cells", "created_at",
              "updated_at"},
    "datasets": {"id", "name", "description", "owner_emails", "labels", "upstream_dataset_ids",
                 "versions", "created_at", "updated_at"},
    "users": {"id", "name", "email", "team_ids"},
    "teams": {"id", "name", "member_ids"},
}  # fmt: skip

#: (collection, list field) -> keys of each item
NESTED: dict[tuple[str, str], set[str]] = {
    ("models", "labels"): {"key", "value"},
    ("instances", "labels"): {"key", "value"},
    ("features", "labels"): {"key", "value"},
    ("datasets", "labels"): {"key", "value"},
    ("pipelines", "nodes"): {"name", "depends_on"},
    ("pipeline-runs", "input_dataset_versions"): {"dataset_id", "version"},
    ("pipeline-runs", "output_dataset_versions"): {"dataset_id", "version"},
    ("pipeline-runs", "ab_test_cells"): {"test_id", "cell_number", "cell_name"},
    ("pipeline-runs", "attempts"): {"attempt", "status", "started_at", "ended_at"},
    ("features", "versions"): {"version", "created_at"},
    ("tests", "cells"): {"cell_number", "name"},
    ("datasets", "versions"): {"version", "created_at", "row_count"},
}

STATUSES = {
    "instances": {"staged", "production", "retired"},
    "pipeline-runs": {"running", "succeeded", "failed"},
    "tests": {"DRAFT", "ACTIVE", "CONCLUDED"},
}

TIMESTAMPS = ("created_at", "updated_at", "started_at", "deployed_at", "ended_at")

#: every event type of contract 1.1 -> its id fields
EVENT_ID_FIELDS: dict[str, tuple[str, ...]] = {
    **{f"model_{a}": ("model_id",) for a in ("created", "updated", "deleted")},
    **{f"model_instance_{a}": ("instance_id",) for a in ("created", "updated", "deleted")},
    **{f"pipeline_{a}": ("pipeline_id",) for a in ("created", "updated", "deleted")},
    **{f"pipeline_run_{a}": ("run_id",) for a in ("started", "completed", "failed")},
    **{f"feature_{a}": ("feature_id",) for a in ("created", "updated", "deleted")},
    **{f"ab_test_{a}": ("test_id",) for a in ("created", "updated", "deleted")},
    **{f"dataset_{a}": ("dataset_id",) for a in ("created", "updated", "deleted")},
    "dataset_version_created": ("dataset_id", "version"),
    "user_updated": ("user_id",),
    "team_updated": ("team_id",),
}

#: event id field -> the collection it names
COLLECTION_OF_FIELD = {
    "model_id": "models",
    "instance_id": "instances",
    "pipeline_id": "pipelines",
    "run_id": "pipeline-runs",
    "feature_id": "features",
    "test_id": "tests",
    "dataset_id": "datasets",
    "user_id": "users",
    "team_id": "teams",
}


def record_problems(collection: str, record: dict[str, Any]) -> list[str]:
    """What is wrong with a record's shape (empty if it matches the contract)."""
    problems = [f"missing {k}" for k in sorted(REQUIRED[collection] - record.keys())]
    for (coll, field), keys in NESTED.items():
        if coll == collection:
            problems += [
                f"{field} item missing {sorted(keys - item.keys())}"
                for item in record[field]
                if not keys <= item.keys()
            ]
    if collection in STATUSES and record["status"] not in STATUSES[collection]:
        problems.append(f"bad status {record['status']!r}")
    for key in TIMESTAMPS:
        value = record.get(key)
        if value is not None and not RFC3339.match(value):
            problems.append(f"{key} not RFC 3339: {value!r}")
    return problems


def is_lineage(event: dict[str, Any]) -> bool:
    """An OpenLineage run event (a landing job's), not a thin event."""
    return "eventType" in event


def event_kind(event: dict[str, Any]) -> str:
    """A thin event's type, or ``openlineage:START`` and the like."""
    return f"openlineage:{event['eventType']}" if is_lineage(event) else str(event["event_type"])


def event_target(event: dict[str, Any]) -> tuple[str, str]:
    """(collection, native id) of the entity a thin event names; for an OpenLineage event,
    ``("openlineage", "{runId} {eventType}")``, one per event."""
    if is_lineage(event):
        return "openlineage", f"{event['run']['runId']} {event['eventType']}"
    (field,) = (f for f in EVENT_ID_FIELDS[event["event_type"]] if f != "version")
    return COLLECTION_OF_FIELD[field], event[field]


def dangling_references(truth: dict[str, Any]) -> list[str]:
    """Every reference in the ground truth to an entity that neither exists nor was deleted,
    and every two-sided relation whose sides disagree."""
    c = truth["collections"]
    deleted = {coll: set(ids) for coll, ids in truth["deleted"].items()}
    emails = {u["email"] for u in c["users"].values()}
    versions = {(d, v["version"]) for d, rec in c["datasets"].items() for v in rec["versions"]}
    cells = {
        (t, cell["cell_number"], cell["name"])
        for t, rec in c["tests"].items()
        for cell in rec["cells"]
    }
    problems: list[str] = []

    def ref(where: str, collection: str, native_id: str | None) -> None:
        if (
            native_id is not None
            and native_id not in c[collection]
            and native_id not in deleted[collection]
        ):
            problems.append(f"{where} -> missing {collection} {native_id!r}")

    for collection, records in c.items():
        for native_id, record in records.items():
            for email in record.get("owner_emails", []):
                if email not in emails:
                    problems.append(f"{collection} {native_id} owner {email!r} unknown")
    for mid, m in c["models"].items():
        for iid in m["instance_ids"]:
            ref(f"model {mid}", "instances", iid)
        if (
            m["current_instance_id"] is not None
            and m["current_instance_id"] not in m["instance_ids"]
        ):
            problems.append(f"model {mid} current instance not among its instances")
    for iid, i in c["instances"].items():
        ref(f"instance {iid}", "models", i["model_id"])
        ref(f"instance {iid}", "pipeline-runs", i["pipeline_run_id"])
        for fid in i["feature_ids"]:
            ref(f"instance {iid}", "features", fid)
        if iid not in c["models"][i["model_id"]]["instance_ids"]:
            problems.append(f"instance {iid} not listed by its model")
    for rid, r in c["pipeline-runs"].items():
        ref(f"run {rid}", "pipelines", r["pipeline"])
        for v in r["input_dataset_versions"] + r["output_dataset_versions"]:
            if (v["dataset_id"], v["version"]) not in versions:
                problems.append(f"run {rid} -> missing version {v}")
        for cell in r["ab_test_cells"]:
            if (cell["test_id"], cell["cell_number"], cell["cell_name"]) not in cells:
                problems.append(f"run {rid} -> missing cell {cell}")
    for fid, f in c["features"].items():
        for did in f["source_dataset_ids"]:
            ref(f"feature {fid}", "datasets", did)
    for did, d in c["datasets"].items():
        for up in d["upstream_dataset_ids"]:
            ref(f"dataset {did}", "datasets", up)
    for pid, p in c["pipelines"].items():
        for did in p["output_dataset_ids"]:
            ref(f"pipeline {pid}", "datasets", did)
    for uid, u in c["users"].items():
        for tid in u["team_ids"]:
            if uid not in c["teams"][tid]["member_ids"]:
                problems.append(f"user {uid} in team {tid} but not among its members")
    for tid, t in c["teams"].items():
        for uid in t["member_ids"]:
            if tid not in c["users"][uid]["team_ids"]:
                problems.append(f"team {tid} lists {uid} who is not in it")
    return problems
