"""Freshness without webhooks: every kind of change a real MLflow makes shows in mds within
one catch-up interval (plus the moments a poll and a hydration take), and changes made
while mds is stopped are there after its first poll.

Changes are made through MLflow's REST API (what its clients call), so each is one quick
request whose moment is known; the delays are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mds.client import ApiError, Client
from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from tests.mlflow.server import MlflowServer
from tui.sections import load_sections

pytestmark = pytest.mark.slow

#: the catch-up interval these tests run with
INTERVAL = 2.0
#: what a poll (six listings) and a hydration may add to it on a loaded test machine
READ_ALLOWANCE = 3.0
MODEL = "fraud"
MODEL_ID = f"aip://model/mlflow/{MODEL}"


def version_id(model: str, number: int) -> str:
    return f"aip://model-instance/mlflow/{model}/{number}"


class Mlflow:
    """MLflow's REST API, one request per change."""

    def __init__(self, server: MlflowServer) -> None:
        self.base = f"{server.url}/api/2.0/mlflow/"

    def __call__(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        if method == "GET":
            response = httpx.get(self.base + path, params=body, timeout=30)
        else:
            response = httpx.request(method, self.base + path, json=body, timeout=30)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def entity(daemon: DaemonProcess, xid: str) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = daemon.call("entity", xid)
    except ApiError:
        return {"status": "absent", "tags": [], "name": None, "relationships": []}
    return answer


def tags(page: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["tag"], t["value"]) for t in page["tags"]}


def resolved(page: dict[str, Any]) -> bool:
    return page["status"] == "resolved"


def within(
    daemon: DaemonProcess, xid: str, holds: Callable[[dict[str, Any]], bool], what: str
) -> float:
    """Seconds from now until ``xid``'s page ``holds``; fails past one interval and
    the read allowance."""
    started = time.monotonic()
    deadline = started + INTERVAL + READ_ALLOWANCE
    while True:
        page = entity(daemon, xid)
        if holds(page):
            delay = time.monotonic() - started
            print(f"\n[mlflow catch-up] {what}: visible after {delay:.2f}s")
            return delay
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not visible within {INTERVAL + READ_ALLOWANCE}s: {page}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def api(mlflow: MlflowServer) -> Mlflow:
    return Mlflow(mlflow)


@pytest.fixture(scope="module")
def world(api: Mlflow) -> dict[str, str]:
    """An experiment, a run behind version 1 and one behind nothing, and a model of two
    versions with ``champion`` on 1, made before mds knows MLflow."""
    experiment = api("POST", "experiments/create", name="fraud-training")["experiment_id"]
    runs = {}
    for name in ("train-fraud", "sweep-fraud"):
        started = int(time.time() * 1000)
        run = api(
            "POST", "runs/create", experiment_id=experiment, run_name=name, start_time=started
        )["run"]
        runs[name] = run["info"]["run_id"]
        api(
            "POST", "runs/log-metric", run_id=runs[name], key="loss", value=0.9, timestamp=1, step=0
        )
        api(
            "POST",
            "runs/update",
            run_id=runs[name],
            status="FINISHED",
            end_time=int(time.time() * 1000),
        )
    api("POST", "registered-models/create", name=MODEL)
    for _ in range(2):
        api(
            "POST",
            "model-versions/create",
            name=MODEL,
            source=f"runs:/{runs['train-fraud']}/model",
            run_id=runs["train-fraud"],
        )
    api("POST", "registered-models/alias", name=MODEL, alias="champion", version="1")
    return {"experiment": experiment, "run": runs["train-fraud"], "sweep": runs["sweep-fraud"]}


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory,
    mlflow: MlflowServer,
    identity: SimulatorThread,
    world: dict[str, str],
) -> Iterator[DaemonProcess]:
    tables = {
        "sources.mlflow": {"base_url": mlflow.url, "backoff_base_seconds": 0.05},
        "mlflow": {"catch_up_interval_seconds": INTERVAL},
    }
    workdir = tmp_path_factory.mktemp("mds")
    with DaemonProcess(workdir, identity.base_url, extra=tables) as daemon:
        deadline = time.monotonic() + 120
        while not resolved(entity(daemon, version_id(MODEL, 2))):
            assert time.monotonic() < deadline, "the first poll did not import MLflow"
            time.sleep(0.1)
        yield daemon


def test_the_first_poll_imports_every_run_and_experiment(
    daemon: DaemonProcess, world: dict[str, str]
) -> None:
    sweep = f"aip://pipeline-run/mlflow/{world['sweep']}"
    within(daemon, sweep, resolved, "a run behind no version")
    experiment = entity(daemon, f"aip://pipeline/mlflow/{world['experiment']}")
    assert resolved(experiment) and experiment["name"] == "fraud-training"
    status = daemon.call("status")["sources"]["mlflow"]
    assert "webhook" not in status and status["catch_up"]["known"]["runs"] >= 2, status


def test_new_version(daemon: DaemonProcess, api: Mlflow, world: dict[str, str]) -> None:
    api("POST", "model-versions/create", name=MODEL, source="s3://b/m", run_id=world["run"])
    within(daemon, version_id(MODEL, 3), resolved, "new version")


def test_alias_move(daemon: DaemonProcess, api: Mlflow) -> None:
    api("POST", "registered-models/alias", name=MODEL, alias="champion", version="2")
    within(daemon, version_id(MODEL, 2), lambda p: ("alias", "champion") in tags(p), "alias set")
    assert ("alias", "champion") not in tags(entity(daemon, version_id(MODEL, 1)))
    assert any(
        r["type"] == "current_instance" and r["target"] == version_id(MODEL, 2)
        for r in entity(daemon, MODEL_ID)["relationships"]
    )


def test_model_tag_set_and_delete(daemon: DaemonProcess, api: Mlflow) -> None:
    api("POST", "registered-models/set-tag", name=MODEL, key="tier", value="gold")
    within(daemon, MODEL_ID, lambda p: ("tier", "gold") in tags(p), "model tag set")
    api("DELETE", "registered-models/delete-tag", name=MODEL, key="tier")
    within(daemon, MODEL_ID, lambda p: ("tier", "gold") not in tags(p), "model tag deleted")


def test_version_tag_set_and_delete(daemon: DaemonProcess, api: Mlflow) -> None:
    v1 = version_id(MODEL, 1)
    api("POST", "model-versions/set-tag", name=MODEL, version="1", key="validated", value="yes")
    within(daemon, v1, lambda p: ("validated", "yes") in tags(p), "version tag set")
    api("DELETE", "model-versions/delete-tag", name=MODEL, version="1", key="validated")
    within(daemon, v1, lambda p: ("validated", "yes") not in tags(p), "version tag deleted")


def test_description_edits(daemon: DaemonProcess, api: Mlflow) -> None:
    api("PATCH", "registered-models/update", name=MODEL, description="flags card fraud")
    within(daemon, MODEL_ID, lambda p: p["description"] == "flags card fraud", "model described")
    api("PATCH", "model-versions/update", name=MODEL, version="1", description="baseline")
    within(
        daemon, version_id(MODEL, 1), lambda p: p["description"] == "baseline", "version described"
    )


def test_stage_change(daemon: DaemonProcess, api: Mlflow) -> None:
    api(
        "POST",
        "model-versions/transition-stage",
        name=MODEL,
        version="1",
        stage="Staging",
        archive_existing_versions=False,
    )
    within(daemon, version_id(MODEL, 1), lambda p: ("stage", "Staging") in tags(p), "stage set")


def test_version_delete(daemon: DaemonProcess, api: Mlflow) -> None:
    api("DELETE", "model-versions/delete", name=MODEL, version="3")
    within(daemon, version_id(MODEL, 3), lambda p: p["status"] == "deleted", "version deleted")


def test_run_edits(daemon: DaemonProcess, api: Mlflow, world: dict[str, str]) -> None:
    run_id = f"aip://pipeline-run/mlflow/{world['run']}"
    logged_at = int(time.time() * 1000)
    for step, value in enumerate((0.81, 0.93)):
        api(
            "POST",
            "runs/log-metric",
            run_id=world["run"],
            key="auc",
            value=value,
            timestamp=logged_at + step * 1000,
            step=step,
        )
    within(daemon, run_id, lambda p: ("metric.auc", "0.93") in tags(p), "run metric logged")
    series = [
        (datetime.fromisoformat(change["valid"]), change["value"])
        for tx in daemon.call("history", run_id)["transactions"]
        for change in tx["changes"]
        if change["attribute"] == "attr/metric.auc" and change["op"] == "assert"
    ]
    assert sorted(series) == [
        (datetime.fromtimestamp(logged_at / 1000, UTC), 0.81),
        (datetime.fromtimestamp(logged_at / 1000 + 1, UTC), 0.93),
    ], "the metric's history, each value valid from when it was logged"
    api("POST", "runs/set-tag", run_id=world["run"], key="reviewed", value="yes")
    within(daemon, run_id, lambda p: ("reviewed", "yes") in tags(p), "run tag set")
    api("POST", "runs/update", run_id=world["run"], run_name="train-fraud-final")
    within(daemon, run_id, lambda p: p["name"] == "train-fraud-final", "run renamed")
    api("POST", "runs/delete", run_id=world["sweep"])
    sweep = f"aip://pipeline-run/mlflow/{world['sweep']}"
    within(daemon, sweep, lambda p: p["status"] == "deleted", "run deleted")


async def test_the_explorer_shows_mlflow_pages_as_mlflow_reads_them(
    daemon: DaemonProcess, world: dict[str, str]
) -> None:
    """A run's metrics charted from their history (after test_run_edits logged auc twice),
    a version by its stage, aliases and run: none of the reference platform's deployment,
    features or "not tested", which mean nothing for a registry version."""
    async with Client(daemon.socket) as client:
        run = await client.entity(f"aip://pipeline-run/mlflow/{world['run']}")
        (section,) = await load_sections(client, run, {"as_of": None, "known_at": None})
        shown = section.body.plain
        assert section.title == "MLflow run", shown
        auc = next(line for line in shown.splitlines() if line.startswith("auc"))
        assert "0.93" in auc and "▁█" in auc and "2 points" in auc, shown
        assert "fraud" in shown  # its experiment
        version = await client.entity(version_id(MODEL, 1))
        (section,) = await load_sections(client, version, {"as_of": None, "known_at": None})
        shown = section.body.plain
        assert section.title == "MLflow version" and "Version" in shown, shown
        assert not {"Deployment", "Features", "not tested"} & set(shown.split()), shown
        assert "train-fraud" in shown  # the run that made it


def test_experiment_rename(daemon: DaemonProcess, api: Mlflow, world: dict[str, str]) -> None:
    api("POST", "experiments/update", experiment_id=world["experiment"], new_name="fraud-v2")
    pipeline = f"aip://pipeline/mlflow/{world['experiment']}"
    within(daemon, pipeline, lambda p: p["name"] == "fraud-v2", "experiment renamed")


def test_model_rename_leaves_no_live_duplicate(daemon: DaemonProcess, api: Mlflow) -> None:
    api("POST", "registered-models/rename", name=MODEL, new_name="fraud-detector")
    within(daemon, version_id("fraud-detector", 2), resolved, "renamed model's version")
    within(daemon, MODEL_ID, lambda p: p["status"] == "deleted", "old name retracted")
    for number in (1, 2):
        assert entity(daemon, version_id(MODEL, number))["status"] == "deleted"
    assert resolved(entity(daemon, "aip://model/mlflow/fraud-detector"))


def test_model_delete(daemon: DaemonProcess, api: Mlflow) -> None:
    api("POST", "registered-models/create", name="scratch")
    within(daemon, "aip://model/mlflow/scratch", resolved, "model created")
    api("DELETE", "registered-models/delete", name="scratch")
    within(
        daemon, "aip://model/mlflow/scratch", lambda p: p["status"] == "deleted", "model deleted"
    )


def test_changes_made_while_mds_is_stopped_are_there_after_its_first_poll(
    daemon: DaemonProcess, api: Mlflow, world: dict[str, str]
) -> None:
    daemon.stop()
    api("POST", "registered-models/alias", name="fraud-detector", alias="champion", version="1")
    api("POST", "registered-models/set-tag", name="fraud-detector", key="tier", value="silver")
    api("POST", "runs/set-tag", run_id=world["run"], key="audited", value="yes")
    api("POST", "experiments/update", experiment_id=world["experiment"], new_name="fraud-v3")
    daemon.start()
    run_id = f"aip://pipeline-run/mlflow/{world['run']}"
    v1 = version_id("fraud-detector", 1)
    within(daemon, v1, lambda p: ("alias", "champion") in tags(p), "alias moved while down")
    model = "aip://model/mlflow/fraud-detector"
    within(daemon, model, lambda p: ("tier", "silver") in tags(p), "tag set while down")
    within(daemon, run_id, lambda p: ("audited", "yes") in tags(p), "run tag set while down")
    pipeline = f"aip://pipeline/mlflow/{world['experiment']}"
    within(daemon, pipeline, lambda p: p["name"] == "fraud-v3", "renamed while down")
    deadline = time.monotonic() + 30
    while daemon.call("status")["sources"]["mlflow"]["in_step_at"] is None:
        assert time.monotonic() < deadline, "mds never said it was in step with MLflow"
        time.sleep(0.2)
