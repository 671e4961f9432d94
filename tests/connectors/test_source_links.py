"""Where an entity is seen in its source's own UI: a table's ui_url, MLflow's built in."""

from __future__ import annotations

import pytest

from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.policy import SourcePolicy


def test_ui_url_is_filled_with_the_entity_made_safe_for_a_url() -> None:
    policy = SourcePolicy("http://registry:8701", ui_url="https://reg.example/{kind}/{native_id}")
    assert policy.ui_link("model", "ranking model/v1", "x") == (
        "https://reg.example/model/ranking%20model/v1"
    )
    assert SourcePolicy("http://registry:8701").ui_link("model", "x", "x") is None


@pytest.mark.parametrize(
    ("template", "says"),
    [("https://x/{id}", "may name {kind}, {native_id} and {name}"), ("ftp://x/{kind}", "http")],
)
def test_a_ui_url_that_cannot_be_filled_is_refused_where_it_is_read(
    template: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says.replace("{", r"\{").replace("}", r"\}")):
        SourcePolicy("http://registry:8701", ui_url=template)


@pytest.mark.parametrize(
    ("entity", "path"),
    [
        ({"entity_type": "Model", "native_id": "fraud model"}, "#/models/fraud%20model"),
        ({"entity_type": "ModelInstance", "native_id": "fraud/3"}, "#/models/fraud/versions/3"),
        (
            {
                "entity_type": "ModelInstance",
                "native_id": "m-1",
                "attributes": {"mlflow_kind": "logged_model", "experiment_id": "7"},
            },
            "#/experiments/7/models/m-1",
        ),
        (
            {
                "entity_type": "PipelineRun",
                "native_id": "abc",
                "attributes": {"experiment_id": "7"},
            },
            "#/experiments/7/runs/abc",
        ),
        ({"entity_type": "Pipeline", "native_id": "7"}, "#/experiments/7"),
        ({"entity_type": "Dataset", "native_id": "iris"}, None),
    ],
)
def test_mlflow_links_to_its_own_ui(entity: dict[str, object], path: str | None) -> None:
    connector = MlflowConnector(SourcePolicy("http://mlflow:5000/"))
    expected = None if path is None else f"http://mlflow:5000/{path}"
    assert connector.source_url(entity) == expected


def test_a_ui_url_overrides_mlflows_own() -> None:
    policy = SourcePolicy("http://mlflow:5000", ui_url="https://ui.example/{kind}/{native_id}")
    entity = {"id": "aip://model/mlflow/fraud", "entity_type": "Model", "native_id": "fraud"}
    assert MlflowConnector(policy).source_url(entity) == "https://ui.example/model/fraud"
