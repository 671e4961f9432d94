"""Fixtures for the MLflow connector: a fake MLflow for fast tests, and (slow tests only) a
real MLflow server installed once into a cached virtualenv."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mdsd.connectors.mlflow.connector import MlflowConnector
from mdsd.connectors.policy import SourcePolicy
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.mlflow.fake_mlflow import FakeMlflow, kv
from tests.mlflow.server import MlflowServer, ensure_mlflow

BASE_URL = "http://mlflow.test"


@pytest.fixture
def fake() -> FakeMlflow:
    """One experiment, one run reading a dataset, a model with two versions (v1 champion)."""
    mlflow = FakeMlflow()
    mlflow.add_experiment("1", "iris-training", tags=kv(team="vision"))
    mlflow.add_run(
        "r1",
        "1",
        run_name="train-1",
        data={
            "params": kv(alpha="0.5"),
            "metrics": [{"key": "rmse", "value": 0.12, "timestamp": 1, "step": 0}],
            "tags": kv(**{"mlflow.user": "root", "mlflow.source.type": "LOCAL", "team": "vision"}),
        },
        inputs={
            "dataset_inputs": [
                {
                    "tags": kv(**{"mlflow.data.context": "training"}),
                    "dataset": {
                        "name": "iris",
                        "digest": "97ce029f",
                        "source_type": "s3",
                        "source": '{"uri": "s3://bucket/iris.csv"}',
                        "schema": '{"mlflow_colspec": [{"type": "long", "name": "x"}]}',
                        "profile": '{"num_rows": 3}',
                    },
                }
            ]
        },
    )
    mlflow.add_model("iris-classifier", description="classifies irises", tags=kv(domain="vision"))
    mlflow.add_version("iris-classifier", "r1", tags=kv(validated="yes"))
    mlflow.add_version("iris-classifier", "r1", user_id="alice@example.com")
    mlflow.set_alias("iris-classifier", "champion", "1")
    return mlflow


@pytest.fixture
async def connector(fake: FakeMlflow) -> AsyncIterator[MlflowConnector]:
    policy = SourcePolicy(base_url=BASE_URL, backoff_base_seconds=0, cache_ttl_seconds=60)
    mlflow = MlflowConnector(policy, transport=fake.transport())
    yield mlflow
    await mlflow.aclose()


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real MLflow server (slow tests), one per test module."""
    venv, install_seconds = ensure_mlflow()
    with MlflowServer(venv, tmp_path_factory.mktemp("mlflow")) as server:
        print(
            f"\n[mlflow] install {install_seconds:.1f}s, server ready in {server.started_in:.1f}s"
        )
        yield server


@pytest.fixture(scope="module")
def identity() -> Iterator[SimulatorThread]:
    """The reference platform (its identity source is what matters here)."""
    with SimulatorThread(World.generate(size=60, seed=11)) as simulator:
        yield simulator
