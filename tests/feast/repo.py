"""A real Feast repo for the tests: parquet data, a file offline store, a SQLite registry.

``DEFINITIONS`` is the repo's ``definitions.py``; what it defines follows ``scenario.json``
beside it, so a test changes the repo by rewriting the scenario and applying again: with
``feast apply`` in a subprocess (``apply``, what a user runs), or in this process through
Feast's ``FeatureStore.apply`` (``apply_here``, for fast tests: no 5 s import per apply).
Two entities, three feature views (one on-demand) and a feature service to begin with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT = "rides"

DEFINITIONS = """
import json
import pathlib
from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float32, Float64, Int64

HERE = pathlib.Path(__file__).resolve().parent
S = json.loads((HERE / "scenario.json").read_text())

driver = Entity(
    name="driver", join_keys=["driver_id"], value_type=ValueType.INT64,
    description="A driver", owner=S["owner"],
)
customer = Entity(
    name="customer", join_keys=["customer_id"], value_type=ValueType.INT64,
    description="A rider",
)
driver_source = FileSource(
    name="driver_stats_source", path=str(HERE / "data" / "driver_stats.parquet"),
    timestamp_field="event_timestamp", description="Hourly driver statistics, as parquet",
)
customer_source = FileSource(
    name="customer_source", path=str(HERE / "data" / "customers.parquet"),
    timestamp_field="event_timestamp",
)
driver_fields = [
    Field(name="conv_rate", dtype=Float32, description="Conversion rate"),
    Field(name="acc_rate", dtype=Float32, description="Acceptance rate"),
]
if S["trips"]:
    driver_fields.append(Field(name="avg_daily_trips", dtype=Int64, description="Trips a day"))
driver_stats = FeatureView(
    name="driver_hourly_stats", entities=[driver], ttl=timedelta(days=1), schema=driver_fields,
    source=driver_source, owner=S["owner"], tags=S["tags"], description="Driver statistics",
)
request = RequestSource(name="trip_request", schema=[Field(name="val_to_add", dtype=Int64)])


@on_demand_feature_view(
    sources=[driver_stats, request],
    schema=[Field(name="conv_rate_plus_val", dtype=Float64)],
)
def adjusted_rates(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["conv_rate_plus_val"] = inputs["conv_rate"] + inputs["val_to_add"]
    return out


served = [driver_stats[["conv_rate"]], adjusted_rates]
if S["customers"]:
    customer_profile = FeatureView(
        name="customer_profile", entities=[customer], ttl=timedelta(days=7),
        schema=[Field(name="lifetime_value", dtype=Float64, description="Lifetime value")],
        source=customer_source,
    )
    served.append(customer_profile)
driver_activity = FeatureService(
    name="driver_activity", features=served, owner=S["owner"], tags={"stage": "production"},
    description="What the ranking model is served",
)
"""

FEATURE_STORE_YAML = """project: {project}
provider: local
registry:
  registry_type: {registry_type}
  path: {registry}
  cache_ttl_seconds: 0
online_store:
  type: sqlite
  path: {root}/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""


@dataclass
class Scenario:
    """What the repo defines: ``trips`` adds a feature, ``customers`` keeps a view."""

    owner: str = "ana@example.com"
    tags: dict[str, str] = field(default_factory=lambda: {"team": "pricing"})
    trips: bool = False
    customers: bool = True


class FeastRepo:
    """A Feast repo in ``root`` with a SQLite registry: SQL (a SQLAlchemy URL) or a file."""

    def __init__(self, root: Path, *, sql: bool = True) -> None:
        self.root = root
        self.registry = f"sqlite:///{root}/registry.db" if sql else str(root / "registry.pb")
        root.mkdir(parents=True, exist_ok=True)
        (root / "feature_store.yaml").write_text(
            FEATURE_STORE_YAML.format(
                project=PROJECT,
                registry_type="sql" if sql else "file",
                registry=self.registry,
                root=root,
            )
        )
        (root / "definitions.py").write_text(DEFINITIONS)
        self._write_data()
        self.scenario = Scenario()

    @property
    def parquet(self) -> Path:
        return self.root / "data" / "driver_stats.parquet"

    def _write_data(self) -> None:
        import pandas as pd

        (self.root / "data").mkdir(exist_ok=True)
        at = pd.Timestamp("2025-01-01", tz="UTC")
        pd.DataFrame(
            {
                "driver_id": [1001, 1002],
                "conv_rate": [0.5, 0.7],
                "acc_rate": [0.9, 0.8],
                "avg_daily_trips": [10, 12],
                "event_timestamp": [at, at],
            }
        ).to_parquet(self.parquet)
        pd.DataFrame(
            {"customer_id": [1], "lifetime_value": [120.0], "event_timestamp": [at]}
        ).to_parquet(self.root / "data" / "customers.parquet")

    def set(self, **changes: Any) -> None:
        self.scenario = Scenario(**{**asdict(self.scenario), **changes})
        (self.root / "scenario.json").write_text(json.dumps(asdict(self.scenario)))

    def apply(self, timeout: float = 180.0) -> None:
        """``feast apply`` in the repo, as a user runs it."""
        (self.root / "scenario.json").write_text(json.dumps(asdict(self.scenario)))
        feast = Path(sys.executable).with_name("feast")
        done = subprocess.run(
            [str(feast), "apply"],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"feast apply failed:\n{done.stdout}\n{done.stderr}")

    def apply_here(self) -> None:
        """What ``feast apply`` does, in this process: the objects the definitions define
        applied, and the views they no longer define deleted, through ``FeatureStore``."""
        import runpy

        from feast import (
            Entity,
            FeatureService,
            FeatureStore,
            FeatureView,
            FileSource,
            OnDemandFeatureView,
            RequestSource,
        )

        (self.root / "scenario.json").write_text(json.dumps(asdict(self.scenario)))
        defined = runpy.run_path(str(self.root / "definitions.py")).values()
        kinds = (
            Entity,
            FileSource,
            RequestSource,
            FeatureView,
            OnDemandFeatureView,
            FeatureService,
        )
        objects = [o for o in defined if isinstance(o, kinds)]
        views = {o.name for o in objects if isinstance(o, FeatureView | OnDemandFeatureView)}
        store = FeatureStore(repo_path=str(self.root))
        stale = [v for v in store.list_all_feature_views() if v.name not in views]
        store.apply(objects, objects_to_delete=stale, partial=False)
