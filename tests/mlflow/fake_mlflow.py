"""An in-memory MLflow REST API for fast tests, served through ``httpx.MockTransport``.

Bodies have the shapes a real MLflow 3.17 server returns (captured from one): 64-bit times
as epoch milliseconds, ``[{"key", "value"}]`` tags, empty lists left out, 404 with
``RESOURCE_DOES_NOT_EXIST``. Search endpoints page with ``page_token`` and honour the
orders, views and the one ``runs/search`` filter mds uses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import httpx

API = "/api/2.0/mlflow/"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in milliseconds

Json = dict[str, Any]


def kv(**pairs: str) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in pairs.items()]


class FakeMlflow:
    def __init__(self) -> None:
        self.models: dict[str, Json] = {}
        self.versions: dict[tuple[str, str], Json] = {}
        self.runs: dict[str, Json] = {}
        self.experiments: dict[str, Json] = {}
        self.logged_models: dict[str, Json] = {}
        self.requests: Counter[str] = Counter()
        self.now = T0

    # -- building the world ------------------------------------------------------------------

    def tick(self) -> int:
        self.now += 1000
        return self.now

    def add_model(self, name: str, **fields: Any) -> Json:
        at = self.tick()
        model = {"name": name, "creation_timestamp": at, "last_updated_timestamp": at, **fields}
        self.models[name] = model
        return model

    def add_version(self, name: str, run_id: str | None = None, **fields: Any) -> Json:
        at = self.tick()
        number = str(1 + sum(1 for n, _ in self.versions if n == name))
        version = {
            "name": name,
            "version": number,
            "creation_timestamp": at,
            "last_updated_timestamp": at,
            "current_stage": "None",
            "description": "",
            "source": f"runs:/{run_id}/model" if run_id else "models:/m-0",
            "status": "READY",
            "run_link": "",
            **({"run_id": run_id} if run_id else {}),
            **fields,
        }
        self.versions[(name, number)] = version
        self.models[name]["last_updated_timestamp"] = at
        return version

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Like MLflow: no timestamp moves."""
        aliases = [a for a in self.models[name].get("aliases", []) if a["alias"] != alias]
        self.models[name]["aliases"] = [*aliases, {"alias": alias, "version": version}]

    def add_experiment(self, experiment_id: str, name: str, **fields: Any) -> Json:
        at = self.tick()
        experiment = {
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": f"/artifacts/{experiment_id}",
            "lifecycle_stage": "active",
            "last_update_time": at,
            "creation_time": at,
            **fields,
        }
        self.experiments[experiment_id] = experiment
        return experiment

    def add_run(self, run_id: str, experiment_id: str, **fields: Any) -> Json:
        at = self.tick()
        run = {
            "info": {
                "run_uuid": run_id,
                "run_id": run_id,
                "experiment_id": experiment_id,
                "run_name": fields.pop("run_name", "train"),
                "user_id": fields.pop("user_id", "root"),
                "status": fields.pop("status", "FINISHED"),
                "start_time": at,
                "end_time": at + 500,
                "artifact_uri": f"/artifacts/{experiment_id}/{run_id}/artifacts",
                "lifecycle_stage": fields.pop("lifecycle_stage", "active"),
            },
            "data": fields.pop("data", {}),
            "inputs": fields.pop("inputs", {}),
            **fields,
        }
        self.runs[run_id] = run
        return run

    # -- serving -----------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(API)
        q = request.url.params
        self.requests[path] += 1
        if path == "registered-models/get":
            return self._one("registered_model", self.models.get(q["name"]))
        if path == "registered-models/search":
            return self._page("registered_models", list(self.models.values()), q)
        if path == "model-versions/search":
            versions = list(self.versions.values())
            if "filter" in q:
                wanted = re.fullmatch(r"name = (['\"])(.*)\1", q["filter"])
                assert wanted, q["filter"]
                versions = [v for v in versions if v["name"] == wanted[2]]
            return self._page("model_versions", versions, q)
        if path == "runs/get":
            return self._one("run", self.runs.get(q["run_id"]))
        if path == "experiments/get":
            return self._one("experiment", self.experiments.get(q["experiment_id"]))
        if path == "experiments/search":
            experiments = list(self.experiments.values())
            if q.get("view_type") != "ALL":
                experiments = [e for e in experiments if e["lifecycle_stage"] == "active"]
            return self._page("experiments", experiments, q)
        if path == "runs/search":
            return self._search_runs(json.loads(request.content))
        if path == "metrics/get-history":
            run = self.runs.get(q["run_id"])
            if run is None:
                return self._one("run", None)
            points = [m for m in run["data"].get("metrics", []) if m["key"] == q["metric_key"]]
            history = run.get("history", {}).get(q["metric_key"], points)
            return self._page("metrics", list(history), q)
        if path == "logged-models/search":
            wanted = json.loads(request.content)["experiment_ids"]
            logged = [
                m for m in self.logged_models.values() if m["info"]["experiment_id"] in wanted
            ]
            return self._page("models", logged, httpx.QueryParams())
        if path.startswith("logged-models/"):
            return self._one("model", self.logged_models.get(path.rpartition("/")[2]))
        return httpx.Response(404, json={"error_code": "ENDPOINT_NOT_FOUND"})

    def _search_runs(self, body: Json) -> httpx.Response:
        runs = [
            r for r in self.runs.values() if r["info"]["experiment_id"] in body["experiment_ids"]
        ]
        if body.get("run_view_type") != "ALL":
            runs = [r for r in runs if r["info"]["lifecycle_stage"] == "active"]
        since = re.fullmatch(r"attributes\.start_time >= (\d+)", body.get("filter", ""))
        dataset = re.fullmatch(
            r"datasets\.name = '(.*)' AND datasets\.digest = '(.*)'", body.get("filter", "")
        )
        assert "filter" not in body or since or dataset, body["filter"]
        if since:
            runs = [r for r in runs if r["info"]["start_time"] >= int(since[1])]
        if dataset:
            runs = [r for r in runs if (dataset[1], dataset[2]) in _datasets(r)]
        assert body.get("order_by") == ["attributes.start_time DESC"], body
        runs.sort(key=lambda r: -r["info"]["start_time"])
        query = {k: str(body[k]) for k in ("page_token", "max_results") if k in body}
        return self._page("runs", runs, httpx.QueryParams(query))

    @staticmethod
    def _one(key: str, item: Json | None) -> httpx.Response:
        if item is None:
            return httpx.Response(404, json={"error_code": "RESOURCE_DOES_NOT_EXIST"})
        return httpx.Response(200, json={key: item})

    @staticmethod
    def _page(key: str, items: list[Json], q: httpx.QueryParams) -> httpx.Response:
        if q.get("order_by") == "last_updated_timestamp DESC":
            items.sort(key=lambda i: -i["last_updated_timestamp"])
        start = int(q.get("page_token") or 0)
        size = int(q.get("max_results") or 100)
        body: Json = {key: items[start : start + size]} if items[start : start + size] else {}
        if start + size < len(items):
            body["next_page_token"] = str(start + size)
        return httpx.Response(200, json=body)


def _datasets(run: Json) -> set[tuple[str, str]]:
    """(name, digest) of each dataset a run logged as an input."""
    inputs = run.get("inputs", {}).get("dataset_inputs", [])
    return {(i["dataset"]["name"], i["dataset"]["digest"]) for i in inputs}
