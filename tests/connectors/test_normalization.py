"""Each payload kind of contract 1.2 normalized to the exact ids, names, tags and edges of 1.3."""

from __future__ import annotations

import json

import httpx
import pytest
from connector_fakes import BASE, FakeSource

from mds.wire.model import FIELDS, EntityType, NormalizedEntity, Rel, Tag
from mdsd.connectors import CONNECTORS, Gone, Hydrated, InvalidPayload, SourcePolicy
from mdsd.connectors.base import Connector

NOW = "2025-01-02T03:04:05Z"


def connector(source_key: str, routes: dict) -> Connector:
    fake = FakeSource(routes)
    return CONNECTORS[source_key](SourcePolicy(BASE), transport=fake.transport)


async def hydrate(
    source_key: str, path: str, payload: dict, unit_id: str
) -> list[NormalizedEntity]:
    result = await connector(source_key, {path: payload}).hydrate(unit_id)
    assert isinstance(result, Hydrated)
    return result.entities


async def test_model():
    [model] = await hydrate(
        "registry",
        "/api/v1/models/ranking-model",
        {
            "id": "ranking-model",
            "name": "Ranking model",
            "description": "ranks rows",
            "owner_emails": ["alice@example.com", "bob@example.com"],
            "labels": [{"key": "team", "value": "personalization"}, {"key": "tier", "value": None}],
            "instance_ids": ["ranking-model-v4", "ranking-model-v5"],
            "current_instance_id": "ranking-model-v5",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": NOW,
            "unknown": {"ignored": True},
        },
        "aip://model/registry/ranking-model",
    )
    assert model == NormalizedEntity(
        id="aip://model/registry/ranking-model",
        entity_type=EntityType.MODEL,
        source="registry",
        native_id="ranking-model",
        name="Ranking model",
        description="ranks rows",
        owner_emails=["alice@example.com", "bob@example.com"],
        tags=[Tag("team", "personalization"), Tag("tier", "")],
        relationships={Rel.CURRENT_INSTANCE: ["aip://model-instance/registry/ranking-model-v5"]},
        mentions=[
            "aip://model-instance/registry/ranking-model-v4",
            "aip://model-instance/registry/ranking-model-v5",
        ],
        created_at="2024-01-01T00:00:00Z",
        updated_at=NOW,
    )


async def test_model_instance():
    [instance] = await hydrate(
        "registry",
        "/api/v1/instances/ranking-model-v5-20250101",
        {
            "id": "ranking-model-v5-20250101",
            "model_id": "ranking-model",
            "version": 5,
            "pipeline_run_id": "train-weekly-ranking-20250101",
            "feature_ids": ["watch-time-7d", "watch-time-7d", "clicks-1d"],
            "owner_emails": [],
            "labels": [],
            "status": "production",
            "deployed_at": NOW,
        },
        "aip://model-instance/registry/ranking-model-v5-20250101",
    )
    assert instance.name == "ranking-model-v5-20250101"  # no name: the native id
    assert instance.attributes == {"version": 5, "status": "production", "deployed_at": NOW}
    assert instance.relationships == {
        Rel.INSTANCE_OF: ["aip://model/registry/ranking-model"],
        Rel.PRODUCED_BY: ["aip://pipeline-run/orchestrator/train-weekly-ranking-20250101"],
        Rel.USES_FEATURE: [
            "aip://feature/featurestore/watch-time-7d",
            "aip://feature/featurestore/clicks-1d",
        ],
    }


async def test_pipeline():
    [pipeline] = await hydrate(
        "orchestrator",
        "/api/v1/pipelines/weekly-ranking-trainer",
        {
            "id": "weekly-ranking-trainer",
            "name": "Weekly ranking trainer",
            "owner_emails": ["carol@example.com"],
            "schedule": "0 3 * * 1",
            "nodes": [
                {"name": "extract", "depends_on": []},
                {"name": "train", "depends_on": ["extract"]},
            ],
            "output_dataset_ids": ["ranking-training-set"],
        },
        "aip://pipeline/orchestrator/weekly-ranking-trainer",
    )
    assert pipeline.name == "Weekly ranking trainer"
    assert pipeline.owner_emails == ["carol@example.com"]
    assert pipeline.attributes == {"schedule": "0 3 * * 1", "node_count": 2}
    assert pipeline.relationships == {Rel.OUTPUTS: ["aip://dataset/datasets/ranking-training-set"]}


async def test_pipeline_run():
    [run] = await hydrate(
        "orchestrator",
        "/api/v1/pipeline-runs/train-weekly-ranking-20250101",
        {
            "run_id": "train-weekly-ranking-20250101",
            "pipeline": "weekly-ranking-trainer",
            "status": "succeeded",
            "started_at": "2025-01-01T03:00:00Z",
            "ended_at": "2025-01-01T04:00:00Z",
            "input_dataset_versions": [{"dataset_id": "playback-events", "version": "2025-01-01"}],
            "output_dataset_versions": [{"dataset_id": "ranking-training-set", "version": "v9"}],
            "ab_test_cells": [{"test_id": "12345", "cell_number": 2, "cell_name": "treatment"}],
            "attempts": [
                {"attempt": 2, "status": "succeeded"},
                {"attempt": 1, "status": "failed"},
            ],
        },
        "aip://pipeline-run/orchestrator/train-weekly-ranking-20250101",
    )
    assert run.id == "aip://pipeline-run/orchestrator/train-weekly-ranking-20250101"
    assert run.name == "train-weekly-ranking-20250101"
    assert run.attributes == {
        "status": "succeeded",
        "started_at": "2025-01-01T03:00:00Z",
        "ended_at": "2025-01-01T04:00:00Z",
        "attempts": 2,
        "last_attempt_status": "succeeded",
    }
    assert run.relationships == {
        Rel.RUN_OF: ["aip://pipeline/orchestrator/weekly-ranking-trainer"],
        Rel.READS: ["aip://dataset-version/datasets/playback-events@2025-01-01"],
        Rel.WRITES: ["aip://dataset-version/datasets/ranking-training-set@v9"],
        Rel.RAN_FOR: ["aip://ab-test-cell/experiments/12345/2"],
    }
    # the contract's run has no timestamps of its own: created when it starts, last
    # changed when it ends; its pipeline and data are fixed, its cell assignments undated
    assert (run.began_at, run.changed_at) == ("2025-01-01T03:00:00Z", "2025-01-01T04:00:00Z")
    assert (run.created_at, run.updated_at) == (None, None)  # never shown as the source's
    assert run.fixed == {"run_of", "reads", "writes", "started_at"}
    assert run.undated == {"ran_for"}


async def test_a_running_run_was_last_changed_when_it_started_unless_it_says_otherwise():
    payload = {"run_id": "r1", "pipeline": "p", "status": "running"}
    started = {**payload, "started_at": "2025-01-01T03:00:00+01:00"}
    [run] = await hydrate("orchestrator", "/api/v1/pipeline-runs/r1", started, RUN_R1)
    assert (run.began_at, run.changed_at) == ("2025-01-01T03:00:00+01:00",) * 2
    stamped = {**started, "created_at": "2024-12-31T00:00:00Z", "updated_at": NOW}
    [run] = await hydrate("orchestrator", "/api/v1/pipeline-runs/r1", stamped, RUN_R1)
    assert (run.created_at, run.updated_at) == ("2024-12-31T00:00:00Z", NOW)
    [run] = await hydrate("orchestrator", "/api/v1/pipeline-runs/r1", payload, RUN_R1)
    assert (run.began_at, run.changed_at, run.updated_at) == (None, None, None)


RUN_R1 = "aip://pipeline-run/orchestrator/r1"


@pytest.mark.parametrize("source_key", sorted(CONNECTORS))
def test_timings_name_fields_their_kinds_have(source_key):
    """A declared name that no field of its kind has would silently date nothing."""
    for kind, declared in CONNECTORS[source_key].timings.items():
        for name in declared.fixed | declared.undated:
            assert name in FIELDS or name in set(Rel) or name in KIND_ATTRIBUTES[kind], (
                f"{source_key} {kind}: {name!r} is no field of it"
            )


#: the attribute names the connectors give each kind (theirs, across sources)
KIND_ATTRIBUTES = {
    EntityType.MODEL: {"latest_version", "version_count", "aliases"},
    EntityType.MODEL_INSTANCE: {
        "version", "status", "deployed_at", "stage", "aliases", "registration_status",
        "source", "logged_model_id", "mlflow_kind", "mlflow_status", "model_type",
        "experiment_id", "artifact_uri",
    },
    EntityType.PIPELINE: {"schedule", "node_count", "artifact_location", "lifecycle_stage"},
    EntityType.PIPELINE_RUN: {
        "status", "started_at", "ended_at", "attempts", "last_attempt_status", "mlflow_status",
        "experiment_id", "artifact_uri", "source_name", "source_type", "git_commit",
        "parent_run_id",
    },
    EntityType.FEATURE: {"latest_version", "version_count"},
    EntityType.DATASET: {"latest_version", "version_count"},
    EntityType.DATASET_VERSION: {
        "version", "row_count", "created_at", "dataset", "source_type", "source_uri", "schema",
        "profile",
    },
    EntityType.AB_TEST: {"status", "cell_count"},
    EntityType.AB_TEST_CELL: {"cell_number"},
}  # fmt: skip


async def test_feature():
    [feature] = await hydrate(
        "featurestore",
        "/api/v1/features/watch-time-7d",
        {
            "id": "watch-time-7d",
            "name": "watch_time_7d",
            "labels": [{"key": "pii", "value": "false"}],
            "source_dataset_ids": ["playback-events"],
            "versions": [
                {"version": "3", "created_at": "2025-01-03T00:00:00Z"},
                {"version": "2", "created_at": "2025-01-02T00:00:00+01:00"},
            ],
        },
        "aip://feature/featurestore/watch-time-7d",
    )
    assert feature.name == "watch_time_7d"
    assert feature.tags == [Tag("pii", "false")]
    assert feature.attributes == {"latest_version": "3", "version_count": 2}
    assert feature.relationships == {Rel.DERIVED_FROM: ["aip://dataset/datasets/playback-events"]}


async def test_ab_test_and_its_cells():
    test, control, treatment = await hydrate(
        "experiments",
        "/api/v1/tests/12345",
        {
            "test_id": 12345,  # numeric ids are read as their decimal spelling
            "name": "New ranking",
            "status": "ACTIVE",
            "owner_emails": ["dave@example.com"],
            "cells": [
                {"cell_number": 1, "name": "control"},
                {"cell_number": 2, "name": "treatment"},
            ],
        },
        "aip://ab-test/experiments/12345",
    )
    assert (test.id, test.name, test.parent) == (
        "aip://ab-test/experiments/12345",
        "New ranking",
        None,
    )
    assert test.attributes == {"status": "ACTIVE", "cell_count": 2}
    assert treatment == NormalizedEntity(
        id="aip://ab-test-cell/experiments/12345/2",
        entity_type=EntityType.AB_TEST_CELL,
        source="experiments",
        native_id="12345/2",
        name="treatment",
        attributes={"cell_number": 2},
        relationships={Rel.CELL_OF: ["aip://ab-test/experiments/12345"]},
        parent="aip://ab-test/experiments/12345",
        fixed=frozenset({"cell_of", "parent", "cell_number"}),
    )
    assert control.name == "control"
    assert test.fixed == test.undated == frozenset()  # its status changes, dated by updated_at


async def test_dataset_and_its_versions():
    dataset, v1, v2 = await hydrate(
        "datasets",
        "/api/v1/datasets/playback-events",
        {
            "id": "playback-events",
            "name": "Playback events",
            "owner_emails": ["erin@example.com"],
            "labels": [{"key": "domain", "value": "playback"}],
            "upstream_dataset_ids": ["raw-player-logs"],
            "versions": [
                {"version": "2025-01-01", "created_at": "2025-01-01T06:00:00Z", "row_count": 1000},
                {"version": "2025-01-02", "created_at": "2025-01-02T06:00:00Z", "row_count": None},
            ],
        },
        "aip://dataset/datasets/playback-events",
    )
    assert dataset.relationships == {Rel.DERIVED_FROM: ["aip://dataset/datasets/raw-player-logs"]}
    assert dataset.attributes == {"latest_version": "2025-01-02", "version_count": 2}
    assert v1 == NormalizedEntity(
        id="aip://dataset-version/datasets/playback-events@2025-01-01",
        entity_type=EntityType.DATASET_VERSION,
        source="datasets",
        native_id="playback-events@2025-01-01",
        name="playback-events@2025-01-01",
        attributes={
            "version": "2025-01-01",
            "row_count": 1000,
            "created_at": "2025-01-01T06:00:00Z",
        },
        relationships={Rel.VERSION_OF: ["aip://dataset/datasets/playback-events"]},
        created_at="2025-01-01T06:00:00Z",
        parent="aip://dataset/datasets/playback-events",
        fixed=frozenset({"version_of", "parent", "version", "row_count", "created_at"}),
    )
    assert v2.attributes == {"version": "2025-01-02", "created_at": "2025-01-02T06:00:00Z"}


async def test_user_and_team():
    [user] = await hydrate(
        "identity",
        "/api/v1/users/alice",
        {
            "id": "alice",
            "name": "Alice",
            "email": "alice@example.com",
            "team_ids": ["personalization"],
        },
        "aip://user/identity/alice",
    )
    assert user.attributes == {"email": "alice@example.com"}
    assert user.relationships == {Rel.MEMBER_OF: ["aip://team/identity/personalization"]}
    [team] = await hydrate(
        "identity",
        "/api/v1/teams/personalization",
        {"id": "personalization", "name": "Personalization", "member_ids": ["alice", "bob"]},
        "aip://team/identity/personalization",
    )
    assert team.name == "Personalization"
    assert team.mentions == ["aip://user/identity/alice", "aip://user/identity/bob"]
    assert team.relationships == {}


@pytest.mark.parametrize(
    ("source_key", "path", "payload", "unit_id"),
    [
        ("registry", "/api/v1/models/m", {"id": "m"}, "aip://model/registry/m"),
        (
            "registry",
            "/api/v1/instances/i",
            {"id": "i", "model_id": None},
            "aip://model-instance/registry/i",
        ),
        (
            "orchestrator",
            "/api/v1/pipeline-runs/r",
            {"run_id": "r", "attempts": []},
            "aip://pipeline-run/orchestrator/r",
        ),
        (
            "featurestore",
            "/api/v1/features/f",
            {"id": "f", "versions": None},
            "aip://feature/featurestore/f",
        ),
        (
            "experiments",
            "/api/v1/tests/t",
            {"test_id": "t", "cells": []},
            "aip://ab-test/experiments/t",
        ),
        ("datasets", "/api/v1/datasets/d", {"id": "d", "labels": None}, "aip://dataset/datasets/d"),
        ("identity", "/api/v1/teams/t", {"id": "t", "member_ids": []}, "aip://team/identity/t"),
    ],
)
async def test_minimal_payloads_are_accepted(source_key, path, payload, unit_id):
    [only] = await hydrate(source_key, path, payload, unit_id)
    assert only.id == unit_id
    assert only.name == unit_id.rsplit("/", 1)[1]
    assert (only.owner_emails, only.tags, only.relationships, only.mentions) == ([], [], {}, [])
    assert None not in only.attributes.values()


@pytest.mark.parametrize(
    ("unit_id", "payload", "message"),
    [
        (
            "aip://model/registry/m",
            {"name": "m"},
            'registry models/m: missing required id field "id"',
        ),
        (
            "aip://pipeline-run/orchestrator/r",
            {"status": "running"},
            'orchestrator pipeline-runs/r: missing required id field "run_id"',
        ),
        (
            "aip://ab-test/experiments/t",
            {"test_id": "t", "cells": [{"name": "control"}]},
            r'experiments tests/t.cells\[0\]: missing required id field "cell_number"',
        ),
        (
            "aip://dataset/datasets/d",
            {"id": "d", "versions": [{"version": ""}]},
            r'datasets datasets/d.versions\[0\]: "version" must be a non-empty string id, got ""',
        ),
        (
            "aip://model-instance/registry/i",
            {"id": "i", "feature_ids": "f1"},
            'registry instances/i: "feature_ids" must be a list, got string',
        ),
        ("aip://model/registry/m", {"id": "other"}, "describes aip://model/registry/other"),
        (  # half a UTF-16 pair has no UTF-8 form: the store refused it, "failed unexpectedly"
            "aip://model/registry/m",
            {"id": "m", "name": "ranker \udcff"},
            r'registry models/m: "name" is not Unicode text: "ranker \\udcff"',
        ),
        (
            "aip://feature/featurestore/f",
            {"id": "f", "source_dataset_ids": ["d\ud800"]},
            r'"source_dataset_ids\[0\]" is not Unicode text',
        ),
        ("aip://user/identity/u", ["not", "an", "object"], "expected a JSON object, got array"),
    ],
)
async def test_unreadable_payloads_say_which_field(unit_id, payload, message):
    source_key = unit_id.split("/")[3]
    body = httpx.Response(200, content=json.dumps(payload).encode())  # \u-escapes kept
    conn = CONNECTORS[source_key](SourcePolicy(BASE), transport=FakeSource(default=body).transport)
    with pytest.raises(InvalidPayload, match=message):
        await conn.hydrate(unit_id)


async def test_404_is_gone():
    result = await connector("registry", {}).hydrate("aip://model/registry/retired")
    assert result == Gone("aip://model/registry/retired")


async def test_hydrating_a_part_reads_its_unit():
    fake = FakeSource(
        {"/api/v1/tests/7": {"test_id": "7", "cells": [{"cell_number": 1, "name": "a"}]}}
    )
    conn = CONNECTORS["experiments"](SourcePolicy(BASE), transport=fake.transport)
    result = await conn.hydrate("aip://ab-test-cell/experiments/7/1")
    assert isinstance(result, Hydrated)
    assert result.entities[0].id == "aip://ab-test/experiments/7"
    assert fake.paths() == ["/api/v1/tests/7"]


async def test_native_ids_are_escaped_in_paths():
    fake = FakeSource()
    conn = CONNECTORS["datasets"](SourcePolicy(BASE), transport=fake.transport)
    await conn.hydrate("aip://dataset/datasets/a b/c")
    assert [str(r.url.raw_path, "ascii") for r in fake.requests] == ["/api/v1/datasets/a%20b%2Fc"]


async def test_a_part_listed_twice_is_one_entity():
    [_, version] = await hydrate(
        "datasets",
        "/api/v1/datasets/d",
        {
            "id": "d",
            "versions": [{"version": "1", "row_count": 1}, {"version": "1", "row_count": 2}],
        },
        "aip://dataset/datasets/d",
    )
    assert version.attributes["row_count"] == 2


def test_labels_as_a_plain_object_are_accepted():
    from mdsd.connectors.payload import Payload, tags

    assert tags(Payload({"labels": {"team": "x", "n": 3}}, "t")) == [
        Tag("team", "x"),
        Tag("n", "3"),
    ]


async def test_source_unavailable_propagates():
    from mdsd.connectors import SourceUnavailable

    fake = FakeSource({"/api/v1/models/m": httpx.Response(503)})
    conn = CONNECTORS["registry"](
        SourcePolicy(BASE, max_retries=1, backoff_base_seconds=0), transport=fake.transport
    )
    with pytest.raises(SourceUnavailable):
        await conn.hydrate("aip://model/registry/m")
    assert conn.stats()["errors"] == 2


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("2025-01-06T09:30:00Z", "2025-01-06T09:30:00Z"),
        ("2025-01-06t09:30:00z", "2025-01-06T09:30:00Z"),
        ("2025-01-06 09:30:00+00:00", "2025-01-06T09:30:00Z"),
        ("2025-01-06T11:30:00.5+02:00", "2025-01-06T11:30:00.500000+02:00"),
        ("2025-01-06T09:30:00.123456789Z", "2025-01-06T09:30:00.123456Z"),
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999Z"),
        ("2025-01-06T09:30:00", None),  # no zone: cannot be ordered against the others
        ("yesterday", None),
        (None, None),
    ],
)
async def test_timestamps_in_any_rfc3339_spelling_are_kept(given, read):
    """RFC 3339 (5.6) allows lowercase t and z, a space for T, any fraction and leap
    seconds; every one reaches the writer in a spelling it can order."""
    [model] = await hydrate(
        "registry",
        "/api/v1/models/m",
        {"id": "m", "created_at": given, "updated_at": given},
        "aip://model/registry/m",
    )
    assert (model.created_at, model.updated_at) == (read, read)
