"""MLflow as a source: registered models and their versions, runs, experiments, run inputs.

MLflow has no thin-event contract of its own, so this connector defines the ``mlflow_*``
event types its webhook deliveries and catch-up polls become; like every event they only
say what to re-read. A model and its versions are one unit (aliases are the model's), read
together; how MLflow's payloads map onto the unified model is ``normalize``'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import quote

from mds.wire.model import EntityType, parse_aip_id
from mdsd.connectors.base import (
    EventSpec,
    Gone,
    Hydrated,
    HydrationResult,
    InvalidPayload,
    Listed,
    SourceUnavailable,
)
from mdsd.connectors.http import HttpConnector, NotFound
from mdsd.connectors.mlflow.normalize import (
    SOURCE,
    TIMINGS,
    dataset_version_parts,
    deleted,
    describe_dataset,
    experiment_ref,
    filter_literal,
    fingerprint,
    is_prompt,
    listing_token,
    logged_model_id,
    logged_model_ref,
    metric_keys,
    model_ref,
    nested,
    normalize_dataset_version,
    normalize_experiment,
    normalize_logged_model,
    normalize_model,
    normalize_run,
    optional,
    run_ref,
)
from mdsd.connectors.payload import Payload
from mdsd.connectors.policy import SourcePolicy

__all__ = ["SOURCE", "MlflowConnector"]

API = "/api/2.0/mlflow"
#: the largest pages MLflow's search APIs serve
MODEL_PAGE = 1000
VERSION_PAGE = 10000
EXPERIMENT_PAGE = 1000
#: the largest page of metrics/get-history MLflow serves
HISTORY_PAGE = 25000
#: MLflow's own page of logged-models/search (a logged model carries its params and metrics)
LOGGED_MODEL_PAGE = 100
#: runs carry their params, tags and latest metrics: a page of them is a few MB at most
RUN_PAGE = 1000


class MlflowConnector(HttpConnector):
    """Reads one MLflow tracking server's REST API (2.0) through a polite HTTP client."""

    source = SOURCE
    events = {
        "mlflow_model_changed": EventSpec(EntityType.MODEL, ("name",)),
        "mlflow_model_version_changed": EventSpec(EntityType.MODEL_INSTANCE, ("name", "version")),
        "mlflow_run_changed": EventSpec(EntityType.PIPELINE_RUN, ("run_id",)),
        "mlflow_experiment_changed": EventSpec(EntityType.PIPELINE, ("experiment_id",)),
        "mlflow_logged_model_changed": EventSpec(EntityType.MODEL_INSTANCE, ("model_id",)),
    }
    timings = TIMINGS

    def source_url(self, entity: Mapping[str, Any]) -> str | None:
        """MLflow's own UI, on the tracking server's address, unless ``ui_url`` says else:
        a registered model, a version, a run, an experiment or a logged model's page."""
        configured = super().source_url(entity)
        if configured is not None:
            return configured
        base = self.policy.base_url.rstrip("/")
        native = str(entity.get("native_id", ""))
        attributes = entity.get("attributes") or {}
        kind = entity.get("entity_type")
        experiment = quote(str(attributes.get("experiment_id", "")))
        if kind == EntityType.MODEL:
            return f"{base}/#/models/{quote(native)}"
        if kind == EntityType.MODEL_INSTANCE and attributes.get("mlflow_kind") == "logged_model":
            return f"{base}/#/experiments/{experiment}/models/{quote(native)}"
        if kind == EntityType.MODEL_INSTANCE:
            name, _, version = native.rpartition("/")
            return f"{base}/#/models/{quote(name)}/versions/{quote(version)}"
        if kind == EntityType.PIPELINE_RUN:
            return f"{base}/#/experiments/{experiment}/runs/{quote(native)}"
        if kind == EntityType.PIPELINE:
            return f"{base}/#/experiments/{quote(native)}"
        return None

    def __init__(self, policy: SourcePolicy, **client_options: Any) -> None:
        """``client_options``: those of ``HttpConnector`` (transport, clock, sleep)."""
        super().__init__(policy, **client_options)
        #: counters of the services feeding this source (webhook receiver, catch-up poll),
        #: by name, shown with the client's in ``mds status``
        self.services: dict[str, Callable[[], dict[str, object]]] = {}
        #: when mds last held everything MLflow showed (the catch-up poll knows; None
        #: without one: webhooks alone never say that nothing was missed)
        self.in_step_at: Callable[[], str | None] = lambda: None

    @classmethod
    def target_of(cls, event_type: str, ids: Mapping[str, str]) -> str:
        """Version events name their model's unit: versions are parts of it."""
        if event_type == "mlflow_logged_model_changed":
            return logged_model_ref(ids["model_id"])
        entity_type = cls.events[event_type].entity_type
        if entity_type in (EntityType.MODEL, EntityType.MODEL_INSTANCE):
            return model_ref(ids["name"])
        if entity_type is EntityType.PIPELINE_RUN:
            return run_ref(ids["run_id"])
        return experiment_ref(ids["experiment_id"])

    @classmethod
    def unit_of(cls, entity_id: str) -> str:
        """A version is a part of its model; a logged model (no ``/`` in its id) is a unit."""
        parsed = parse_aip_id(entity_id)
        if parsed.entity_type is EntityType.MODEL_INSTANCE and "/" in parsed.native_id:
            return model_ref(parsed.native_id.rpartition("/")[0])
        return entity_id

    async def hydrate(self, unit_id: str) -> HydrationResult:
        return self.timed(await self._hydrate(unit_id))

    async def _hydrate(self, unit_id: str) -> HydrationResult:
        unit_id = self.unit_of(unit_id)
        parsed = parse_aip_id(unit_id)
        if parsed.source != self.source:
            raise ValueError(f"{unit_id} is not a unit of source {self.source!r}")
        kind, native = parsed.entity_type, parsed.native_id
        if kind is EntityType.MODEL:
            return await self._hydrate_model(unit_id, native)
        if kind is EntityType.MODEL_INSTANCE:  # a unit of its own: a logged model
            body = await self._get(f"logged-models/{native}", None, unit_id)
            if body is None:
                return Gone(unit_id)
            return Hydrated([normalize_logged_model(nested(body, "model"))])
        if kind is EntityType.DATASET:
            return Hydrated([describe_dataset(native)])
        if kind is EntityType.DATASET_VERSION:
            return await self._hydrate_dataset_version(unit_id, native)
        if kind is EntityType.PIPELINE_RUN:
            body = await self._get("runs/get", {"run_id": native}, unit_id)
            if body is None or deleted(nested(body, "run"), "info"):
                return Gone(unit_id)
            run = nested(body, "run")
            histories = {
                key: await self._metric_history(native, key)
                for key in metric_keys(nested(run, "data"))
            }
            return Hydrated([normalize_run(run, histories)])
        if kind is EntityType.PIPELINE:
            body = await self._get("experiments/get", {"experiment_id": native}, unit_id)
            if body is None or deleted(body, "experiment"):
                return Gone(unit_id)
            return Hydrated([normalize_experiment(nested(body, "experiment"))])
        raise ValueError(f"{unit_id}: mlflow has no {kind}")

    async def _hydrate_model(self, unit_id: str, name: str) -> HydrationResult:
        body = await self._get("registered-models/get", {"name": name}, unit_id)
        if body is None or is_prompt(nested(body, "registered_model")):
            return Gone(unit_id)  # a prompt is no model: never one in mds
        model = nested(body, "registered_model")
        versions = [
            v
            async for v in self.pages(
                "model-versions/search",
                "model_versions",
                {"filter": f"name = {filter_literal(name)}", "max_results": VERSION_PAGE},
            )
        ]
        links: dict[str, str] = {}
        for v in versions:
            logged = logged_model_id(v)
            if logged and not optional(v, "run_id") and logged not in links:
                run_id = await self._run_of_logged_model(logged)
                if run_id:
                    links[logged] = run_id
        entities = normalize_model(model, versions, links)
        if entities[0].id != unit_id:
            raise InvalidPayload(f"mlflow registered-models/get {name}: describes {entities[0].id}")
        return Hydrated(entities)

    async def _metric_history(self, run_id: str, key: str) -> list[Payload]:
        """Every value a run logged for one metric (``runs/get`` has only the latest)."""
        params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        return [m async for m in self.pages("metrics/get-history", "metrics", params)]

    async def _hydrate_dataset_version(self, unit_id: str, native: str) -> HydrationResult:
        """MLflow describes a dataset only inside the runs that log it as an input: the
        newest such run (deleted ones too) says its source, schema and profile; with none
        left, the version is gone."""
        name, digest = dataset_version_parts(native)
        matching = (
            f"datasets.name = {filter_literal(name)} AND datasets.digest = {filter_literal(digest)}"
        )
        experiments = [e.id("experiment_id") async for e in self.experiments("ALL")]
        async for run in self.runs(experiments, view="ALL", filter=matching):
            for item in nested(run, "inputs").objects("dataset_inputs"):
                dataset = nested(item, "dataset")
                if (dataset.text("name"), dataset.text("digest")) == (name, digest):
                    return Hydrated([normalize_dataset_version(dataset)])
        return Gone(unit_id)

    async def _run_of_logged_model(self, model_id: str) -> str | None:
        body = await self._get(f"logged-models/{model_id}", None, model_id)
        if body is None:
            return None
        return optional(nested(nested(body, "model"), "info"), "source_run_id")

    async def _get(
        self, path: str, params: Mapping[str, str | int] | None, what: str
    ) -> Payload | None:
        body = await self.client.get_json(f"{API}/{path}", params)
        if isinstance(body, NotFound):
            return None
        return Payload(body, f"mlflow {path} ({what})")

    async def pages(
        self, path: str, key: str, params: Mapping[str, Any], *, post: bool = False
    ) -> AsyncIterator[Payload]:
        """Every item of a paged MLflow search, uncached; ``post`` for the searches MLflow
        serves as POSTs (their ``params`` are the JSON body). A 404 means a wrong
        ``base_url`` (or an MLflow without this API), never "nothing there"."""
        where = f"mlflow {path}"
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = {**params, **({"page_token": token} if token else {})}
            if post:
                body = await self.client.post_json(f"{API}/{path}", query)
            else:
                body = await self.client.get_json(f"{API}/{path}", query, cache=False)
            if isinstance(body, NotFound):
                raise SourceUnavailable(f"{where}: answered 404; is base_url an MLflow server?")
            page = Payload(body, where)
            for item in page.objects(key):
                yield item
            token = page.text("next_page_token")
            if not token:
                return
            if token in seen:
                raise InvalidPayload(f"{where}: next_page_token {token!r} came back again")
            seen.add(token)

    async def runs(
        self, experiment_ids: list[str], *, view: str, filter: str | None = None
    ) -> AsyncIterator[Payload]:
        """The runs of these experiments (``view``: ``ACTIVE_ONLY`` or ``ALL``, deleted
        ones too) that match the search ``filter`` if given, newest start first.
        ``runs/search`` is a POST that only reads."""
        if not experiment_ids:
            return
        query: dict[str, Any] = {
            "experiment_ids": experiment_ids,
            "max_results": RUN_PAGE,
            "run_view_type": view,
            "order_by": ["attributes.start_time DESC"],
        }
        if filter is not None:
            query["filter"] = filter
        async for run in self.pages("runs/search", "runs", query, post=True):
            yield run

    async def list_units(self) -> AsyncIterator[Listed]:
        """Registered models (with a token that changes with their versions, tags and
        aliases), active experiments, their active runs and logged models (tokens: digests
        of what the listing says of each, which change with any edit)."""
        versions: dict[str, list[Payload]] = {}
        async for v in self.pages(
            "model-versions/search", "model_versions", {"max_results": VERSION_PAGE}
        ):
            versions.setdefault(v.id("name"), []).append(v)
        async for m in self.pages(
            "registered-models/search", "registered_models", {"max_results": MODEL_PAGE}
        ):
            name = m.id("name")
            yield Listed(model_ref(name), listing_token(m, versions.get(name, [])))
        experiments: list[str] = []
        async for e in self.experiments("ACTIVE_ONLY"):
            experiments.append(e.id("experiment_id"))
            yield Listed(experiment_ref(experiments[-1]), fingerprint(e))
        async for run in self.runs(experiments, view="ACTIVE_ONLY"):
            yield Listed(run_ref(nested(run, "info").id("run_id", "run_uuid")), fingerprint(run))
        async for logged in self.logged_models(experiments):
            yield Listed(
                logged_model_ref(nested(logged, "info").id("model_id")), fingerprint(logged)
            )

    async def logged_models(self, experiment_ids: list[str]) -> AsyncIterator[Payload]:
        """The logged models (MLflow 3) of these experiments; a POST that only reads."""
        if not experiment_ids:
            return
        query = {"experiment_ids": experiment_ids, "max_results": LOGGED_MODEL_PAGE}
        async for logged in self.pages("logged-models/search", "models", query, post=True):
            yield logged

    def experiments(self, view: str) -> AsyncIterator[Payload]:
        """Every experiment (``view``: ``ACTIVE_ONLY`` or ``ALL``)."""
        return self.pages(
            "experiments/search",
            "experiments",
            {"max_results": EXPERIMENT_PAGE, "view_type": view},
        )

    def invalidate(self, unit_id: str) -> None:
        parsed = parse_aip_id(self.unit_of(unit_id))
        paths: dict[EntityType, tuple[str, dict[str, str] | None]] = {
            EntityType.MODEL: ("registered-models/get", {"name": parsed.native_id}),
            EntityType.MODEL_INSTANCE: (f"logged-models/{parsed.native_id}", None),
            EntityType.PIPELINE_RUN: ("runs/get", {"run_id": parsed.native_id}),
            EntityType.PIPELINE: ("experiments/get", {"experiment_id": parsed.native_id}),
        }
        if parsed.entity_type in paths:
            path, params = paths[parsed.entity_type]
            self.client.invalidate(self.client.url(f"{API}/{path}", params))

    def stats(self) -> dict[str, object]:
        return {
            **self.client.stats(),
            "in_step_at": self.in_step_at(),
            **{name: stats() for name, stats in self.services.items()},
        }
