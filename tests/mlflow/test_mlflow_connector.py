"""Normalization and hydration of MLflow's registry, runs and experiments."""

from __future__ import annotations

import json

import pytest

from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag
from mdsd.connectors import CONNECTORS, EVENT_ROUTES, Gone, Hydrated, InvalidPayload
from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.mlflow.normalize import filter_literal, rfc3339, user_owners
from mdsd.intake.events import Accepted, parse_events
from tests.mlflow.fake_mlflow import FakeMlflow

MODEL = "aip://model/mlflow/iris-classifier"
V1 = "aip://model-instance/mlflow/iris-classifier/1"
V2 = "aip://model-instance/mlflow/iris-classifier/2"
RUN = "aip://pipeline-run/mlflow/r1"
LOGGED = "aip://model-instance/mlflow/m-42"


async def hydrated(connector: MlflowConnector, unit: str) -> dict[str, NormalizedEntity]:
    result = await connector.hydrate(unit)
    assert isinstance(result, Hydrated), result
    return {e.id: e for e in result.entities}


def test_registered_under_its_source_key_with_its_events() -> None:
    assert CONNECTORS["mlflow"] is MlflowConnector
    assert EVENT_ROUTES["mlflow_model_version_changed"][0] == "mlflow"


@pytest.mark.parametrize(
    ("event", "target"),
    [
        ({"event_type": "mlflow_model_changed", "name": "m"}, "aip://model/mlflow/m"),
        (
            {"event_type": "mlflow_model_version_changed", "name": "m", "version": "3"},
            "aip://model/mlflow/m",
        ),
        ({"event_type": "mlflow_run_changed", "run_id": "abc"}, "aip://pipeline-run/mlflow/abc"),
        (
            {"event_type": "mlflow_experiment_changed", "experiment_id": "7"},
            "aip://pipeline/mlflow/7",
        ),
        (
            {"event_type": "mlflow_logged_model_changed", "model_id": "m-1"},
            "aip://model-instance/mlflow/m-1",
        ),
    ],
)
def test_events_validate_and_point_at_their_unit(event: dict[str, str], target: str) -> None:
    (result,) = parse_events(json.dumps(event).encode(), "test")
    assert isinstance(result, Accepted), result
    assert (result.source, result.target) == ("mlflow", target)


def test_a_version_belongs_to_its_models_unit() -> None:
    assert MlflowConnector.unit_of(V2) == MODEL
    assert MlflowConnector.unit_of(RUN) == RUN
    assert MlflowConnector.unit_of(LOGGED) == LOGGED, "a logged model is a unit of its own"


async def test_model_and_versions_with_aliases_and_lineage(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    entities = await hydrated(connector, V2)  # a version hydrates its whole model
    assert list(entities) == [MODEL, V1, V2]
    model, v1, v2 = entities[MODEL], entities[V1], entities[V2]
    assert (model.entity_type, model.name, model.description) == (
        EntityType.MODEL,
        "iris-classifier",
        "classifies irises",
    )
    assert model.tags == [Tag("domain", "vision")]
    assert model.attributes == {"latest_version": 2, "version_count": 2, "aliases": "champion=1"}
    assert model.relationships == {Rel.CURRENT_INSTANCE: [V1]}
    assert model.updated_at == rfc3339(fake.models["iris-classifier"]["last_updated_timestamp"])
    assert v1.entity_type is EntityType.MODEL_INSTANCE
    assert (v1.name, v1.parent) == ("iris-classifier/1", MODEL)
    assert v1.tags == [Tag("validated", "yes"), Tag("alias", "champion")]
    assert v1.attributes["aliases"] == "champion" and "stage" not in v1.attributes
    assert v1.relationships == {Rel.INSTANCE_OF: [MODEL], Rel.PRODUCED_BY: [RUN]}
    assert v2.owner_emails == ["alice@example.com"] and v2.owners == []
    # MLflow names no owner for a registered model: those who registered its versions do
    assert model.owner_emails == ["alice@example.com"]
    assert model.owners == v1.owners + v2.owners


async def test_moving_an_alias_restates_both_versions(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.set_alias("iris-classifier", "champion", "2")
    connector.invalidate(MODEL)
    entities = await hydrated(connector, MODEL)
    assert Tag("alias", "champion") not in entities[V1].tags
    assert Tag("alias", "champion") in entities[V2].tags
    assert entities[MODEL].relationships[Rel.CURRENT_INSTANCE] == [V2]


async def test_stage_is_visible_and_production_is_current_without_a_champion(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.models["iris-classifier"]["aliases"] = []
    fake.versions[("iris-classifier", "2")]["current_stage"] = "Production"
    entities = await hydrated(connector, MODEL)
    assert entities[V2].attributes["stage"] == "Production"
    assert entities[V2].attributes["status"] == "production"
    assert Tag("stage", "Production") in entities[V2].tags
    assert entities[MODEL].relationships[Rel.CURRENT_INSTANCE] == [V2]


async def test_a_version_without_run_id_finds_its_run_through_the_logged_model(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.add_version("iris-classifier", source="models:/m-42")
    fake.logged_models["m-42"] = {"info": {"model_id": "m-42", "source_run_id": "r1"}}
    entities = await hydrated(connector, MODEL)
    v3 = entities["aip://model-instance/mlflow/iris-classifier/3"]
    assert v3.relationships[Rel.PRODUCED_BY] == [RUN]
    assert v3.relationships[Rel.DERIVED_FROM] == [LOGGED], "registered from the logged model"
    assert v3.attributes["logged_model_id"] == "m-42"


async def test_a_runs_metric_history_is_a_series_dated_by_its_timestamps(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    t = fake.runs["r1"]["info"]["start_time"]
    fake.runs["r1"]["history"] = {
        "rmse": [
            {"key": "rmse", "value": 0.5, "timestamp": t + 10, "step": 0},
            {"key": "rmse", "value": 0.3, "timestamp": t + 20, "step": 1},
            {"key": "rmse", "value": 0.25, "timestamp": t + 20, "step": 2},  # same moment
            {"key": "rmse", "value": 0.12, "timestamp": t + 30, "step": 3},
        ]
    }
    run = (await hydrated(connector, RUN))[RUN]
    assert run.series == {
        "metric.rmse": [(rfc3339(t + 10), 0.5), (rfc3339(t + 20), 0.25), (rfc3339(t + 30), 0.12)]
    }
    assert Tag("metric.rmse", "0.12") in run.tags, "the latest stays a tag, for search"


async def test_a_logged_model_is_an_instance_produced_by_its_run(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.runs["r1"]["outputs"] = {"model_outputs": [{"model_id": "m-42", "step": 0}]}
    fake.logged_models["m-42"] = {
        "info": {
            "model_id": "m-42",
            "experiment_id": "1",
            "name": "model",
            "creation_timestamp_ms": 1000,
            "last_updated_timestamp_ms": 2000,
            "status": "LOGGED_MODEL_READY",
            "source_run_id": "r1",
            "tags": [{"key": "mlflow.user", "value": "root"}, {"key": "flavor", "value": "sk"}],
        },
        "data": {"params": [{"key": "alpha", "value": "0.5"}]},
    }
    logged = (await hydrated(connector, LOGGED))[LOGGED]
    assert (logged.entity_type, logged.name) == (EntityType.MODEL_INSTANCE, "model")
    assert logged.relationships == {Rel.PRODUCED_BY: [RUN]}
    assert logged.tags == [Tag("flavor", "sk"), Tag("param.alpha", "0.5")]
    assert logged.attributes["mlflow_kind"] == "logged_model"
    assert logged.created_at == rfc3339(1000) and logged.updated_at == rfc3339(2000)
    assert (await hydrated(connector, RUN))[RUN].mentions == [LOGGED], "the run's output"
    del fake.logged_models["m-42"]
    connector.invalidate(LOGGED)
    assert await connector.hydrate(LOGGED) == Gone(LOGGED)


async def test_a_version_registered_from_no_run_has_no_producer(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.add_version("iris-classifier", source="s3://bucket/model", run_id="", user_id="")
    entities = await hydrated(connector, MODEL)
    v3 = entities["aip://model-instance/mlflow/iris-classifier/3"]
    assert Rel.PRODUCED_BY not in v3.relationships and v3.owners == []


async def test_run_with_its_experiment_inputs_params_and_user(connector: MlflowConnector) -> None:
    run = (await hydrated(connector, RUN))[RUN]
    assert (run.entity_type, run.name) == (EntityType.PIPELINE_RUN, "train-1")
    assert run.relationships == {
        Rel.RUN_OF: ["aip://pipeline/mlflow/1"],
        Rel.READS: ["aip://dataset-version/mlflow/iris@97ce029f"],
    }
    assert run.owners == ["aip://user/identity/root"]
    assert run.attributes["status"] == "succeeded"
    assert run.attributes["mlflow_status"] == "FINISHED"
    assert run.attributes["source_type"] == "LOCAL"
    tags = {(t.tag, t.value) for t in run.tags}
    assert tags == {
        ("team", "vision"),
        ("param.alpha", "0.5"),
        ("metric.rmse", "0.12"),
        ("input", "iris@97ce029f (training) s3://bucket/iris.csv"),
    }, "system tags (mlflow.*) are attributes, not tags"


async def test_a_run_is_created_when_it_starts_and_last_changed_when_it_ends(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    run = (await hydrated(connector, RUN))[RUN]
    info = fake.runs["r1"]["info"]
    assert run.created_at == rfc3339(info["start_time"])
    assert run.updated_at == rfc3339(info["end_time"])
    assert {Rel.RUN_OF, Rel.READS, "started_at"} <= run.fixed
    assert "tags" in run.undated, "tags set after a run ended bump no timestamp"


async def test_what_moves_without_a_timestamp_is_undated(connector: MlflowConnector) -> None:
    entities = await hydrated(connector, MODEL)
    assert {"current_instance", "aliases", "tags"} <= entities[MODEL].undated
    v1 = entities[V1]
    assert {"aliases", "tags"} <= v1.undated
    assert {Rel.INSTANCE_OF, Rel.PRODUCED_BY, "version"} <= v1.fixed
    assert "status" not in v1.fixed | v1.undated, "a stage change bumps last_updated"


async def test_experiment_is_a_pipeline(connector: MlflowConnector) -> None:
    pipeline = (await hydrated(connector, "aip://pipeline/mlflow/1"))["aip://pipeline/mlflow/1"]
    assert (pipeline.entity_type, pipeline.name) == (EntityType.PIPELINE, "iris-training")
    assert pipeline.tags == [Tag("team", "vision")]


async def test_a_dataset_version_is_described_by_the_runs_that_read_it(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    version_id = "aip://dataset-version/mlflow/iris@97ce029f"
    version = (await hydrated(connector, version_id))[version_id]
    assert version.name == "iris@97ce029f"
    assert version.attributes == {
        "version": "97ce029f",
        "dataset": "iris",
        "source_type": "s3",
        "source_uri": "s3://bucket/iris.csv",
        "schema": {"mlflow_colspec": [{"type": "long", "name": "x"}]},
        "profile": {"num_rows": 3},
    }
    assert version.relationships == {Rel.VERSION_OF: ["aip://dataset/mlflow/iris"]}
    assert {"source_type", "schema", "profile"} <= version.fixed, "content-addressed"
    dataset = (await hydrated(connector, "aip://dataset/mlflow/iris"))["aip://dataset/mlflow/iris"]
    assert (dataset.entity_type, dataset.name) == (EntityType.DATASET, "iris")
    del fake.runs["r1"]
    assert await connector.hydrate(version_id) == Gone(version_id), "no run reads it any more"


@pytest.mark.parametrize(
    "unit", ["aip://model/mlflow/nope", "aip://pipeline-run/mlflow/nope", "aip://pipeline/mlflow/9"]
)
async def test_missing_is_gone(connector: MlflowConnector, unit: str) -> None:
    assert await connector.hydrate(unit) == Gone(unit)


async def test_soft_deleted_runs_and_experiments_are_gone(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.runs["r1"]["info"]["lifecycle_stage"] = "deleted"
    fake.experiments["1"]["lifecycle_stage"] = "deleted"
    assert isinstance(await connector.hydrate(RUN), Gone)
    assert isinstance(await connector.hydrate("aip://pipeline/mlflow/1"), Gone)


async def test_unusable_payload_names_the_field(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    fake.versions[("iris-classifier", "1")]["version"] = "one"
    with pytest.raises(InvalidPayload, match="version"):
        await connector.hydrate(MODEL)


async def test_invalidate_makes_the_next_read_fresh(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    await connector.hydrate(RUN)
    await connector.hydrate(RUN)
    assert fake.requests["runs/get"] == 1, "the response cache serves repeated reads"
    connector.invalidate(RUN)
    await connector.hydrate(RUN)
    assert fake.requests["runs/get"] == 2


async def test_listing_pages_through_models_and_experiments(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    for i in range(1500):  # more than one page of models
        fake.add_model(f"m{i:04}")
    listed = [item async for item in connector.list_units()]
    ids = [item.id for item in listed]
    assert ids.count(MODEL) == 1
    assert len([i for i in ids if i.startswith("aip://model/")]) == 1501
    assert "aip://pipeline/mlflow/1" in ids
    assert fake.requests["registered-models/search"] == 2


async def test_listing_token_sees_alias_and_tag_changes(
    fake: FakeMlflow, connector: MlflowConnector
) -> None:
    async def token() -> str | None:
        return {i.id: i.updated_at async for i in connector.list_units()}[MODEL]

    before = await token()
    fake.set_alias("iris-classifier", "champion", "2")  # no timestamp moves
    moved = await token()
    fake.versions[("iris-classifier", "2")]["tags"] = [{"key": "k", "value": "v"}]
    tagged = await token()
    assert len({before, moved, tagged}) == 3
    updated = rfc3339(fake.models["iris-classifier"]["last_updated_timestamp"])
    assert before is not None and updated is not None and before.startswith(updated)


def test_users_become_owner_emails_or_identity_users() -> None:
    emails, owners = user_owners(["alice@example.com", "bob", None, " ", "bob"])
    assert emails == ["alice@example.com"]
    assert owners == ["aip://user/identity/bob"]


def test_filter_literals_quote_what_they_can() -> None:
    assert filter_literal("plain") == "'plain'"
    assert filter_literal("it's") == '"it\'s"'
    with pytest.raises(InvalidPayload):
        filter_literal("""both ' and " """)
