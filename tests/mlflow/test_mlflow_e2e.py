"""A real MLflow server and a real ``mdsd``: what MLflow holds shows up in mds, with its
lineage, through signed webhooks and, with no receiver, through catch-up polling.

MLflow is installed once into a cached virtualenv (see ``tests/mlflow/server.py``); the
reference platform's simulator plays the identity source, so an MLflow user resolves to a
person with a team, across sources. Timings are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from mds.client import ApiError
from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from tests.mlflow.server import MlflowServer, free_port
from tests.mlflow.test_mlflow_webhook import mlflow_signature

pytestmark = pytest.mark.slow

T = TypeVar("T")
WEBHOOK_EVENTS = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
]
#: the MLflow client side of a training job: one run reading one dataset, registered twice
TRAIN = """
import json, os, time, mlflow, pandas as pd
from mlflow import MlflowClient
args = json.loads(os.environ["ARGS"])
mlflow.set_experiment(args["experiment"])
frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
data = mlflow.data.from_pandas(frame, source=args["source"], name=args["dataset"])
class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input
with mlflow.start_run(run_name=args["run_name"]) as run:
    mlflow.log_input(data, context="training")
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("rmse", 0.12)
    mlflow.pyfunc.log_model(name="model", python_model=Echo(), registered_model_name=args["model"])
client = MlflowClient()
client.create_model_version(args["model"], f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
client.set_model_version_tag(args["model"], "1", "validated", "yes")
client.set_registered_model_alias(args["model"], "champion", "1")
print(json.dumps({"run_id": run.info.run_id, "digest": data.digest, "done_at": time.time()}))
"""


def eventually(probe: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


def with_alias(daemon: DaemonProcess, xid: str) -> dict[str, Any] | None:
    """The version's page once it shows its ``champion`` alias.

    MLflow moves no timestamp when an alias is set, so a catch-up poll that ran between a
    version's creation and its alias does not see the alias; reconciliation (which lists
    by content digest) does, so ask for one while waiting. A webhook brings it at once.
    """
    page = shown(daemon, xid)
    if page is not None and ("alias", "champion") in tags(page):
        return page
    daemon.call("reconcile")
    return None


def shown(daemon: DaemonProcess, xid: str) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = daemon.call("entity", xid)
    except ApiError:
        return None
    return answer if answer["status"] == "resolved" else None


def edges(entity: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["type"], r["target"]) for r in entity["relationships"] if r["direction"] == "out"}


def tags(entity: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["tag"], t["value"]) for t in entity["tags"]}


@pytest.fixture
def person(identity: SimulatorThread) -> dict[str, Any]:
    items, _ = identity.world.page("users", 1)
    return dict(identity.world.record("users", items[0]["id"]))


def mlflow_tables(mlflow: MlflowServer, **settings: Any) -> dict[str, dict[str, Any]]:
    return {
        "sources.mlflow": {
            "base_url": mlflow.url,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 1.0,
            "breaker_reset_seconds": 1.0,
        },
        "mlflow": settings,
    }


def train(mlflow: MlflowServer, user: str, **args: str) -> dict[str, Any]:
    """Run ``TRAIN`` as ``user`` (MLflow records the OS login name)."""
    env = {"ARGS": json.dumps(args), "LOGNAME": user, "USER": user}
    result: dict[str, Any] = mlflow.client_script(TRAIN, env)
    return result


def check_graph(
    daemon: DaemonProcess,
    model: str,
    run: dict[str, str],
    args: dict[str, str],
    person: dict[str, Any],
) -> None:
    """The model, its versions, the run, the dataset and the lineage between them."""
    model_id = f"aip://model/mlflow/{model}"
    v1, v2 = (f"aip://model-instance/mlflow/{model}/{n}" for n in (1, 2))
    run_id = f"aip://pipeline-run/mlflow/{run['run_id']}"
    dataset = f"aip://dataset/mlflow/{args['dataset']}"
    version = f"aip://dataset-version/mlflow/{args['dataset']}@{run['digest']}"
    user = f"aip://user/identity/{person['id']}"

    m = eventually(lambda: shown(daemon, model_id), what=model_id)
    assert m["entity_type"] == "Model" and m["name"] == model
    first = eventually(lambda: with_alias(daemon, v1), what=f"{v1} with its alias")
    assert ("alias", "champion") in tags(first) and ("validated", "yes") in tags(first)
    assert {("instance_of", model_id), ("produced_by", run_id)} <= edges(first)
    second = eventually(lambda: shown(daemon, v2), what=v2)
    assert ("produced_by", run_id) in edges(second)
    r = eventually(lambda: shown(daemon, run_id), what=run_id)
    assert r["entity_type"] == "PipelineRun" and r["name"] == args["run_name"]
    assert ("reads", version) in edges(r)
    assert r["owners"] == [user]
    pipeline = next(t for k, t in edges(r) if k == "run_of")
    assert eventually(lambda: shown(daemon, pipeline), what=pipeline)["name"] == args["experiment"]
    dv = eventually(lambda: shown(daemon, version), what=version)
    assert ("version_of", dataset) in edges(dv)
    assert dv["attributes"]["source_type"] == "s3" and dv["attributes"]["source_uri"]
    assert dv["attributes"]["schema"]["mlflow_colspec"] and dv["attributes"]["profile"]
    logged = next(t for k, t in edges(first) if k == "derived_from")  # MLflow 3's LoggedModel
    model_of_run = eventually(lambda: shown(daemon, logged), what=logged)
    assert ("produced_by", run_id) in edges(model_of_run)
    eventually(lambda: shown(daemon, dataset), what=dataset)
    assert eventually(lambda: shown(daemon, user), what=user)["name"] == person["name"]

    wait = daemon.call("wait_idle", 120)
    assert wait["idle"], wait
    upstream = daemon.call("lineage", v1, direction="upstream")
    assert {run_id, pipeline, version, dataset} <= {n["id"] for n in upstream["nodes"]}
    downstream = daemon.call("lineage", dataset, direction="downstream")
    assert {version, run_id, v1, v2, model_id} <= {n["id"] for n in downstream["nodes"]}
    impact = daemon.call("impact", dataset)
    assert user in {o["id"] for o in impact["notify"]["owners"]}
    teams = {f"aip://team/identity/{t}" for t in person["team_ids"]}
    assert teams and teams <= {t["id"] for t in impact["notify"]["teams"]}, "across sources"


def test_webhooks_bring_mlflow_into_mds_and_forgeries_are_refused(
    tmp_path: Path, mlflow: MlflowServer, identity: SimulatorThread, person: dict[str, Any]
) -> None:
    port, secret = free_port(), secrets.token_urlsafe(24)
    receiver = f"http://127.0.0.1:{port}/webhooks/mlflow"
    tables = mlflow_tables(
        mlflow, webhook_port=port, webhook_secret=secret, catch_up_interval_seconds=0
    )
    with DaemonProcess(tmp_path, identity.base_url, extra=tables) as daemon:
        mlflow.client_script(
            "import json, os, mlflow\n"
            "hook = mlflow.MlflowClient().create_webhook(name='mds', url=os.environ['URL'],"
            " events=json.loads(os.environ['EVENTS']), secret=os.environ['SECRET'])\n"
            "print(json.dumps(hook.webhook_id))",
            {"URL": receiver, "EVENTS": json.dumps(WEBHOOK_EVENTS), "SECRET": secret},
        )
        args = {
            "experiment": "iris-training",
            "dataset": "iris",
            "source": "s3://bucket/iris.csv",
            "run_name": "train-iris",
            "model": "iris-classifier",
        }
        run = train(mlflow, person["id"], **args)
        check_graph(daemon, "iris-classifier", run, args, person)

        # webhook to visible: move the alias, watch mds follow
        v2 = "aip://model-instance/mlflow/iris-classifier/2"
        started = mlflow.client_script(
            "import json, time\nfrom mlflow import MlflowClient\nclient = MlflowClient()\n"
            "at = time.time()\n"
            "client.set_registered_model_alias('iris-classifier', 'champion', '2')\n"
            "print(json.dumps(at))"
        )
        eventually(lambda: ("alias", "champion") in tags(shown(daemon, v2) or {"tags": []}))
        print(f"\n[mlflow] alias set -> visible in mds: {time.time() - started:.2f}s")
        v1 = shown(daemon, "aip://model-instance/mlflow/iris-classifier/1")
        assert v1 is not None and ("alias", "champion") not in tags(v1)

        # forgeries: a delivery signed with a guessed secret, a genuine one replayed late
        body = json.dumps(
            {"entity": "registered_model", "action": "created", "data": {"name": "forged"}}
        )
        now = str(int(time.time()))
        forged = {
            "X-MLflow-Delivery-Id": "f-1",
            "X-MLflow-Timestamp": now,
            "X-MLflow-Signature": mlflow_signature("guessed", "f-1", now, body),
        }
        assert httpx.post(receiver, content=body, headers=forged).status_code == 401
        old = str(int(time.time()) - 3600)
        stale = {**forged, "X-MLflow-Timestamp": old}
        stale["X-MLflow-Signature"] = mlflow_signature(secret, "f-1", old, body)
        assert httpx.post(receiver, content=body, headers=stale).status_code == 400
        webhook = daemon.call("status")["sources"]["mlflow"]["webhook"]
        assert webhook["bad_signature"] == 1 and webhook["stale"] == 1, webhook
        assert webhook["accepted"] >= 6, webhook
        daemon.call("wait_idle", 60)
        with pytest.raises(ApiError):
            daemon.call("entity", "aip://model/mlflow/forged")


def test_catch_up_polling_recovers_without_a_receiver(
    tmp_path: Path, mlflow: MlflowServer, identity: SimulatorThread, person: dict[str, Any]
) -> None:
    before = {
        "experiment": "churn",
        "dataset": "accounts",
        "source": "s3://bucket/accounts.parquet",
        "run_name": "train-churn",
        "model": "churn-model",
    }
    run = train(mlflow, person["id"], **before)  # before mds knows MLflow: imported
    tables = mlflow_tables(mlflow, catch_up_interval_seconds=0.5)
    with DaemonProcess(tmp_path, identity.base_url, extra=tables) as daemon:
        check_graph(daemon, "churn-model", run, before, person)
        later = {**before, "run_name": "retrain-churn", "model": "churn-model-v2"}
        rerun = train(mlflow, person["id"], **later)  # while mds runs: found by a poll
        check_graph(daemon, "churn-model-v2", rerun, later, person)
        print(
            f"\n[mlflow] registered -> lineage complete: {time.time() - float(rerun['done_at']):.2f}s"
        )
        status = daemon.call("status")["sources"]["mlflow"]
        assert "webhook" not in status and status["catch_up"]["polls"] >= 2, status

        daemon.call("reconcile")
        report = eventually(
            lambda: daemon.call("status")["enrichment"]["reconcile"]["last"] or None,
            what="a reconciliation pass",
        )
        assert report["errors"] == [], report
        assert report["sources"]["mlflow"]["listed"] >= 2, report
