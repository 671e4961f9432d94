"""A real Feast repo (``feast apply``, a SQLite SQL registry, a file offline store) and a real
``mdsd`` with one ``[sources.feast]`` table: the registry shows up in mds with its lineage,
and each change ``feast apply`` makes (a feature added, a view removed, a view retagged)
within one poll interval, with Feast's timestamps as valid time.

The reference platform's simulator plays the identity source, so a Feast owner resolves to
a person. Timings are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mds.client import ApiError
from mds.testing import DaemonProcess
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.feast.repo import PROJECT, FeastRepo
from tests.feast.test_feast_connector import (
    CUSTOMERS,
    ON_DEMAND,
    SERVICE,
    SOURCE,
    VIEW,
    feature,
)
from tests.mlflow.test_mlflow_e2e import eventually

pytest.importorskip("feast")
pytestmark = pytest.mark.slow

POLL_SECONDS = 2.0
#: what mds may take after a poll to read and write what it announced, on a busy machine
WRITE_SLACK_SECONDS = 8.0


def shown(daemon: DaemonProcess, xid: str, **at: str) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = daemon.call("entity", xid, **at)
    except ApiError:
        return None
    return answer


def resolved(daemon: DaemonProcess, xid: str) -> dict[str, Any] | None:
    page = shown(daemon, xid)
    return page if page is not None and page["status"] == "resolved" else None


def edges(entity: dict[str, Any], direction: str = "out") -> set[tuple[str, str]]:
    return {
        (r["type"], r["target"]) for r in entity["relationships"] if r["direction"] == direction
    }


def tags(entity: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["tag"], t["value"]) for t in entity["tags"]}


@pytest.fixture(scope="module")
def identity() -> Iterator[SimulatorThread]:
    with SimulatorThread(World.generate(size=60, seed=11)) as simulator:
        yield simulator


def test_a_feast_registry_followed_by_mdsd(tmp_path: Path, identity: SimulatorThread) -> None:
    items, _ = identity.world.page("users", 1)
    person = dict(identity.world.record("users", items[0]["id"]))
    user = f"aip://user/identity/{person['id']}"
    # a registry instance trained on the Feast service names it by id in its feature_ids
    # (written before mds starts, while nothing reads the simulated world)
    world = identity.world
    instance_native = world.page("instances", 1)[0][0]["id"]
    held = world.record("instances", instance_native)
    world._update(
        "instances", instance_native, world.now, feature_ids=[*held["feature_ids"], SERVICE]
    )
    instance = f"aip://model-instance/registry/{instance_native}"
    model = f"aip://model/registry/{held['model_id']}"
    repo = FeastRepo(tmp_path / "repo", sql=True)
    repo.set(owner=person["email"])
    started = time.monotonic()
    repo.apply()
    print(f"\n[feast] first apply {time.monotonic() - started:.1f}s")
    tables = {
        "sources.feast": {
            "registry": repo.registry,
            "projects": [PROJECT],
            "poll_interval_seconds": POLL_SECONDS,
        }
    }
    (tmp_path / "mds").mkdir()
    with DaemonProcess(tmp_path / "mds", identity.base_url, extra=tables) as daemon:
        started = time.monotonic()
        view = eventually(lambda: resolved(daemon, VIEW), 60, VIEW)
        print(f"[feast] daemon up -> registry imported: {time.monotonic() - started:.1f}s")
        assert view["entity_type"] == "FeatureView" and view["owners"] == [user]
        assert ("derived_from", SOURCE) in edges(view)
        rate = feature("driver_hourly_stats", "conv_rate")
        assert ("derived_from", VIEW) in edges(eventually(lambda: resolved(daemon, rate), 30, rate))
        service = eventually(lambda: resolved(daemon, SERVICE), 30, SERVICE)
        assert service["entity_type"] == "FeatureService"
        assert ("stage", "production") in tags(service)
        event = {"event_type": "model_instance_updated", "instance_id": instance_native}
        daemon.call("ingest", json.dumps(event).encode())
        trained = eventually(lambda: resolved(daemon, instance), 30, instance)
        assert ("uses_feature", SERVICE) in edges(trained)
        assert daemon.call("wait_idle", 120)["idle"]
        assert ("uses_feature", SERVICE) in edges(resolved(daemon, rate) or {}, "in")

        downstream = daemon.call("lineage", SOURCE, direction="downstream")
        reached = {n["id"] for n in downstream["nodes"]}
        assert {VIEW, rate, ON_DEMAND, SERVICE} <= reached, "parquet source -> service"
        assert {instance, model} <= reached, "-> the model trained on the service"
        upstream = daemon.call("lineage", SERVICE, direction="upstream")
        assert SOURCE in {n["id"] for n in upstream["nodes"]}
        query = """query($view: ID!, $service: ID!) {
          featureView(id: $view) {
            viewType ttlSeconds entities features { name } sources { id } featureServices { name }
          }
          featureService(id: $service) {
            features { nodes { name } } consumingInstances { nodes { id } }
          }
        }"""
        data = daemon.call("graphql", query, {"view": VIEW, "service": SERVICE})["data"]
        assert data["featureView"] == {
            "viewType": "batch",
            "ttlSeconds": 86400,
            "entities": [
                {
                    "name": "driver",
                    "join_key": "driver_id",
                    "value_type": "INT64",
                    "description": "A driver",
                }
            ],
            "features": [{"name": "acc_rate"}, {"name": "conv_rate"}],
            "sources": [{"id": SOURCE}],
            "featureServices": [{"name": "driver_activity"}],
        }
        served = data["featureService"]
        assert {n["name"] for n in served["features"]["nodes"]} == {
            "conv_rate",
            "conv_rate_plus_val",
            "lifetime_value",
        }
        assert served["consumingInstances"]["nodes"] == [{"id": instance}]
        found = daemon.call("search", "driver_hourly_stats", type="feature-view")
        assert found["results"][0]["id"] == VIEW, found
        assert {r["entity_type"] for r in found["results"]} == {"FeatureView"}
        before = view["updated_at"]

        def followed(what: str, probe: Callable[[], bool], **scenario: Any) -> None:
            repo.set(**scenario)
            repo.apply()
            applied = time.monotonic()
            eventually(probe, POLL_SECONDS + WRITE_SLACK_SECONDS, what)
            print(f"[feast] {what}: applied -> visible in mds {time.monotonic() - applied:.1f}s")

        trips = feature("driver_hourly_stats", "avg_daily_trips")
        followed("a feature added", lambda: resolved(daemon, trips) is not None, trips=True)
        lifetime = feature("customer_profile", "lifetime_value")
        followed(
            "a view removed",
            lambda: (shown(daemon, CUSTOMERS) or {}).get("status") == "deleted",
            customers=False,
        )
        assert (shown(daemon, lifetime) or {}).get("status") == "deleted", "its features too"
        assert ("uses_feature", lifetime) not in edges(
            resolved(daemon, SERVICE) or {"relationships": []}
        )
        followed(
            "a view retagged",
            lambda: ("team", "growth") in tags(resolved(daemon, VIEW) or {"tags": []}),
            tags={"team": "growth"},
        )

        # valid time is Feast's: as of the first apply, the old tag and no new feature
        then = shown(daemon, VIEW, as_of=before)
        assert then is not None and ("team", "pricing") in tags(then)
        assert shown(daemon, trips, as_of=before) is None
        changes = daemon.call("history", VIEW)["transactions"]
        assert len(changes) >= 3, changes

        # reconciliation lists the registry too: all of it, and nothing left to read
        daemon.call("reconcile")
        last = eventually(
            lambda: daemon.call("status")["enrichment"]["reconcile"]["last"] or None, 60, "a pass"
        )
        feast = last["sources"]["feast"]
        assert feast["error"] is None and feast["listed"] == 5, feast
        assert feast["queued"] == 0, "the poll already brought every change"
