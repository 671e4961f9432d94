"""MLflow as a source: registered models and their versions, runs, experiments, run inputs.

MLflow has no thin-event contract of its own, so this connector defines the ``mlflow_*``
event types its webhook deliveries and catch-up polls become; like every event they only
say what to re-read. The mapping onto the unified model (ids are ``aip://KIND/mlflow/...``):

=====================  =================  ===============================================
MLflow                 entity type        native id
=====================  =================  ===============================================
registered model       Model              ``{name}``
model version          ModelInstance      ``{name}/{version}`` (a part of its model's unit)
run                    PipelineRun        ``{run_id}``
experiment             Pipeline           ``{experiment_id}``
run dataset input      Dataset            ``{dataset name}``
                       DatasetVersion     ``{dataset name}@{digest}``
=====================  =================  ===============================================

Versions are parts of their model because aliases are the model's (moving ``champion``
changes two versions and bumps no timestamp), so one read of the model and its versions
states them all consistently. Users (a run's ``user_id``, a version's ``user_id``) become
owners: emails resolve through identity like every ``owner_emails``; bare user names
become ``aip://user/identity/{name}``, the same id the identity source would give them.

MLflow serves run inputs only inside ``runs/get`` (searching runs by dataset is a POST),
and a dataset version is immutable and content-addressed, so a Dataset or DatasetVersion is
described from its id alone: its name, its digest and ``version_of``. The run's input
details (context, source URI) are kept on the run, as ``input`` tags.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from mdsd.connectors.base import (
    EventSpec,
    Gone,
    Hydrated,
    HydrationResult,
    InvalidPayload,
    Listed,
    SourceUnavailable,
)
from mdsd.connectors.http import HttpConnector, NotFound, SourcePolicy
from mdsd.connectors.ids import ref
from mdsd.connectors.payload import Payload, Scalar
from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag, aip_id, parse_aip_id

SOURCE = "mlflow"
API = "/api/2.0/mlflow"
#: the largest pages MLflow's search APIs serve
MODEL_PAGE = 1000
VERSION_PAGE = 10000
EXPERIMENT_PAGE = 1000
#: tags MLflow sets itself (``mlflow.*``) are read into attributes, not shown as tags
SYSTEM_TAG_PREFIX = "mlflow."
#: the alias that names a model's current version (MLflow's documented convention) ...
CURRENT_ALIAS = "champion"
#: ... else its newest version in this (deprecated, still common) stage
CURRENT_STAGE = "Production"
#: params and metrics become tags; longer values are cut, a tag is a label, not a blob
MAX_TAG_VALUE = 500

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_RUN_STATUS = {
    "RUNNING": "running",
    "SCHEDULED": "running",
    "FINISHED": "succeeded",
    "FAILED": "failed",
    "KILLED": "failed",
}
_STAGE_STATUS = {"Staging": "staged", "Production": "production", "Archived": "retired"}


# -- ids ----------------------------------------------------------------------------------


def model_ref(name: str) -> str:
    return aip_id(EntityType.MODEL, SOURCE, name)


def version_ref(name: str, version: str) -> str:
    return aip_id(EntityType.MODEL_INSTANCE, SOURCE, f"{name}/{version}")


def run_ref(run_id: str) -> str:
    return aip_id(EntityType.PIPELINE_RUN, SOURCE, run_id)


def experiment_ref(experiment_id: str) -> str:
    return aip_id(EntityType.PIPELINE, SOURCE, experiment_id)


def dataset_ref(name: str) -> str:
    return aip_id(EntityType.DATASET, SOURCE, name)


def dataset_version_ref(name: str, digest: str) -> str:
    return aip_id(EntityType.DATASET_VERSION, SOURCE, f"{name}@{digest}")


def user_owners(users: list[str | None]) -> tuple[list[str], list[str]]:
    """(owner emails, owner user ids) for MLflow user names: emails resolve through the
    identity source; a bare name is taken as the identity user id it usually is."""
    emails: list[str] = []
    owners: list[str] = []
    for user in users:
        user = (user or "").strip()
        if _EMAIL.fullmatch(user):
            emails.append(user)
        elif user:
            owners.append(ref(EntityType.USER, user))
    return list(dict.fromkeys(emails)), list(dict.fromkeys(owners))


def rfc3339(epoch_ms: Scalar) -> str | None:
    """MLflow's epoch milliseconds as an RFC 3339 UTC time; None when absent or unreadable."""
    if isinstance(epoch_ms, str) and epoch_ms.strip().lstrip("-").isdigit():
        epoch_ms = int(epoch_ms)
    if not isinstance(epoch_ms, int | float) or isinstance(epoch_ms, bool):
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def millis(p: Payload, field: str) -> int | None:
    """An epoch-milliseconds field (MLflow's JSON spells 64-bit integers as numbers or strings)."""
    value = p.scalar(field)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optional(p: Payload, field: str) -> str | None:
    """An optional id; MLflow writes "" for "none" (a version registered from no run)."""
    return (p.text(field) or "").strip() or None


def filter_literal(value: str) -> str:
    """``value`` quoted for an MLflow search filter (``name = '...'``)."""
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise InvalidPayload(f"mlflow: {value!r} cannot be quoted in a search filter")


# -- reading MLflow payloads ------------------------------------------------------------------


def key_values(p: Payload, field: str) -> dict[str, str]:
    """MLflow's ``[{"key", "value"}]`` lists (tags, params) as a dict; later keys win."""
    pairs = ((kv.text("key"), kv.text("value")) for kv in p.objects(field))
    return {key: value or "" for key, value in pairs if key}


def user_tags(tags: Mapping[str, str]) -> list[Tag]:
    return [Tag(k, v) for k, v in tags.items() if not k.startswith(SYSTEM_TAG_PREFIX)]


def _cut(value: str) -> str:
    return value if len(value) <= MAX_TAG_VALUE else value[: MAX_TAG_VALUE - 1] + "…"


def _entity(
    entity_type: EntityType,
    native_id: str,
    name: str,
    *,
    description: str | None = None,
    users: list[str | None] | None = None,
    tags: list[Tag] | None = None,
    attributes: Mapping[str, Scalar] | None = None,
    relationships: Mapping[Rel, list[str]] | None = None,
    created_at: str | None = None,
    updated_at: str | None = None,
    parent: str | None = None,
) -> NormalizedEntity:
    """A normalized MLflow entity; null attributes and empty edge lists are left out."""
    emails, owners = user_owners(users or [])
    return NormalizedEntity(
        id=aip_id(entity_type, SOURCE, native_id),
        entity_type=entity_type,
        source=SOURCE,
        native_id=native_id,
        name=name or native_id,
        description=description or None,
        owner_emails=emails,
        owners=owners,
        tags=tags or [],
        attributes={k: v for k, v in (attributes or {}).items() if v not in (None, "")},
        relationships={
            rel: list(dict.fromkeys(targets))
            for rel, targets in (relationships or {}).items()
            if targets
        },
        created_at=created_at,
        updated_at=updated_at,
        parent=parent,
    )


def logged_model_id(v: Payload) -> str | None:
    """The logged model (MLflow 3) a version was registered from, if any."""
    source = v.text("source") or ""
    if source.startswith("models:/"):
        return optional(v, "model_id") or source.removeprefix("models:/").split("/")[0]
    return optional(v, "model_id")


def normalize_model(
    m: Payload, versions: list[Payload], runs_of_logged_models: Mapping[str, str] | None = None
) -> list[NormalizedEntity]:
    """A registered model and all its versions (``registered-models/get`` and
    ``model-versions/search``). ``runs_of_logged_models`` maps logged-model ids to their
    source run, for versions that do not name their run themselves."""
    name = m.id("name")
    unit = model_ref(name)
    aliases: dict[str, list[str]] = {}
    for a in m.objects("aliases"):
        aliases.setdefault(a.id("version"), []).append(a.id("alias"))
    numbered = sorted(((_version_number(v), v) for v in versions), key=lambda nv: nv[0])
    current = next((v for v, names in aliases.items() if CURRENT_ALIAS in names), None)
    if current is None:
        staged = [n for n, v in numbered if v.text("current_stage") == CURRENT_STAGE]
        current = str(staged[-1]) if staged else None
    model = _entity(
        EntityType.MODEL,
        name,
        name,
        description=m.text("description"),
        tags=user_tags(key_values(m, "tags")),
        attributes={
            "latest_version": numbered[-1][0] if numbered else None,
            "version_count": len(numbered),
            "aliases": ", ".join(f"{a}={v}" for v, names in aliases.items() for a in names),
        },
        relationships={Rel.CURRENT_INSTANCE: [version_ref(name, current)] if current else []},
        created_at=rfc3339(millis(m, "creation_timestamp")),
        updated_at=rfc3339(millis(m, "last_updated_timestamp")),
    )
    links = runs_of_logged_models or {}
    return [
        model,
        *(normalize_version(v, unit, aliases.get(str(n), []), links) for n, v in numbered),
    ]


def _version_number(v: Payload) -> int:
    text = v.id("version")
    if not text.isdigit():
        raise InvalidPayload(f'{v.where}: "version" must be a version number, got {text!r}')
    return int(text)


def normalize_version(
    v: Payload, unit: str, aliases: list[str], runs_of_logged_models: Mapping[str, str]
) -> NormalizedEntity:
    name, number = v.id("name"), v.id("version")
    stage = v.text("current_stage")
    stage = None if stage in (None, "", "None") else stage  # "None" is MLflow's "no stage"
    logged = logged_model_id(v)
    run_id = optional(v, "run_id") or (runs_of_logged_models.get(logged) if logged else None)
    tags = user_tags(key_values(v, "tags"))
    tags += [Tag("alias", alias) for alias in aliases]
    if stage:
        tags.append(Tag("stage", stage))
    return _entity(
        EntityType.MODEL_INSTANCE,
        f"{name}/{number}",
        f"{name}/{number}",
        description=v.text("description"),
        users=[v.text("user_id")],
        tags=tags,
        attributes={
            "version": int(number),
            "status": _STAGE_STATUS.get(stage or ""),
            "stage": stage,
            "aliases": ", ".join(aliases),
            "registration_status": v.text("status"),
            "source": v.text("source"),
            "logged_model_id": logged,
        },
        relationships={
            Rel.INSTANCE_OF: [unit],
            Rel.PRODUCED_BY: [run_ref(run_id)] if run_id else [],
        },
        created_at=rfc3339(millis(v, "creation_timestamp")),
        updated_at=rfc3339(millis(v, "last_updated_timestamp")),
        parent=unit,
    )


def normalize_run(run: Payload) -> NormalizedEntity:
    """A run (``runs/get``): its experiment, its dataset inputs, its params and metrics."""
    info = _object(run, "info")
    data = _object(run, "data")
    run_id = info.id("run_id", "run_uuid")
    tags = key_values(data, "tags")
    params = key_values(data, "params")
    metrics = {m.text("key"): m.text("value") for m in data.objects("metrics") if m.text("key")}
    inputs = [_dataset_input(i) for i in _object(run, "inputs").objects("dataset_inputs")]
    status = info.text("status")
    return _entity(
        EntityType.PIPELINE_RUN,
        run_id,
        info.text("run_name") or tags.get("mlflow.runName") or run_id,
        description=tags.get("mlflow.note.content"),
        users=[info.text("user_id"), tags.get("mlflow.user")],
        tags=[
            *user_tags(tags),
            *(Tag(f"param.{k}", _cut(v)) for k, v in params.items()),
            *(Tag(f"metric.{k}", v or "") for k, v in metrics.items() if k),
            *(tag for _, tag in inputs),
        ],
        attributes={
            "status": _RUN_STATUS.get(status or "", (status or "").lower() or None),
            "mlflow_status": status,
            "started_at": rfc3339(millis(info, "start_time")),
            "ended_at": rfc3339(millis(info, "end_time")),
            "experiment_id": info.text("experiment_id"),
            "artifact_uri": info.text("artifact_uri"),
            "source_name": tags.get("mlflow.source.name"),
            "source_type": tags.get("mlflow.source.type"),
            "git_commit": tags.get("mlflow.source.git.commit"),
            "parent_run_id": tags.get("mlflow.parentRunId"),
        },
        relationships={
            Rel.RUN_OF: [experiment_ref(info.id("experiment_id"))],
            Rel.READS: [read for read, _ in inputs],
        },
        created_at=rfc3339(millis(info, "start_time")),
    )


def _dataset_input(item: Payload) -> tuple[str, Tag]:
    """A run's dataset input: the DatasetVersion it reads, and an ``input`` tag keeping what
    only the run knows (``iris@97ce029f (training) s3://bucket/iris.csv``)."""
    dataset = _object(item, "dataset")
    name, digest = dataset.id("name"), dataset.id("digest")
    context = key_values(item, "tags").get("mlflow.data.context")
    parts = (f"{name}@{digest}", f"({context})" if context else "", _dataset_uri(dataset))
    return dataset_version_ref(name, digest), Tag("input", _cut(" ".join(p for p in parts if p)))


def _dataset_uri(dataset: Payload) -> str:
    """Where a dataset input came from: MLflow keeps its source as a JSON string."""
    text = dataset.text("source") or ""
    try:
        source = json.loads(text)
    except ValueError:
        return text
    if isinstance(source, Mapping):
        for key in ("uri", "url", "path", "table_name"):
            if isinstance(source.get(key), str):
                return str(source[key])
    return text


def normalize_experiment(e: Payload) -> NormalizedEntity:
    experiment_id = e.id("experiment_id")
    tags = key_values(e, "tags")
    return _entity(
        EntityType.PIPELINE,
        experiment_id,
        e.text("name") or experiment_id,
        description=tags.get("mlflow.note.content"),
        users=[tags.get("mlflow.ownerEmail"), tags.get("mlflow.owner")],
        tags=user_tags(tags),
        attributes={
            "artifact_location": e.text("artifact_location"),
            "lifecycle_stage": e.text("lifecycle_stage"),
        },
        created_at=rfc3339(millis(e, "creation_time")),
        updated_at=rfc3339(millis(e, "last_update_time")),
    )


def describe_dataset(entity_type: EntityType, native_id: str) -> NormalizedEntity:
    """A run input known by its id alone (see the module docstring)."""
    if entity_type is EntityType.DATASET:
        return _entity(EntityType.DATASET, native_id, native_id)
    name, _, digest = native_id.rpartition("@")
    if not name or not digest:
        raise InvalidPayload(f"mlflow: dataset version id {native_id!r} is not NAME@DIGEST")
    return _entity(
        EntityType.DATASET_VERSION,
        native_id,
        native_id,
        attributes={"version": digest, "dataset": name},
        relationships={Rel.VERSION_OF: [dataset_ref(name)]},
    )


def _object(p: Payload, field: str) -> Payload:
    """A nested object that may be absent (an empty ``inputs``): absent reads as empty."""
    value = p.data.get(field)
    return Payload({} if value is None else value, f"{p.where}.{field}")


def listing_token(model: Payload, versions: list[Payload]) -> str:
    """What reconciliation compares to tell whether a model's unit changed: its update time
    and a digest of its tags, aliases and versions. A time alone would not do: MLflow
    changes tags and aliases without bumping any timestamp."""
    state = {
        "tags": key_values(model, "tags"),
        "aliases": sorted(
            (a.text("alias") or "", a.text("version") or "") for a in model.objects("aliases")
        ),
        "versions": sorted(
            (
                v.text("version") or "",
                v.text("last_updated_timestamp") or "",
                v.text("current_stage") or "",
                sorted(key_values(v, "tags").items()),
            )
            for v in versions
        ),
    }
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return f"{rfc3339(millis(model, 'last_updated_timestamp'))}#{digest}"


# -- the connector --------------------------------------------------------------------------


class MlflowConnector(HttpConnector):
    source = SOURCE
    events = {
        "mlflow_model_changed": EventSpec(EntityType.MODEL, ("name",)),
        "mlflow_model_version_changed": EventSpec(EntityType.MODEL_INSTANCE, ("name", "version")),
        "mlflow_run_changed": EventSpec(EntityType.PIPELINE_RUN, ("run_id",)),
        "mlflow_experiment_changed": EventSpec(EntityType.PIPELINE, ("experiment_id",)),
    }

    def __init__(self, policy: SourcePolicy, **client_options: Any) -> None:
        """``client_options``: those of ``HttpConnector`` (transport, clock, sleep)."""
        super().__init__(policy, **client_options)
        #: counters of the services feeding this source (webhook receiver, catch-up poll),
        #: by name, shown with the client's in ``mds status``
        self.services: dict[str, Callable[[], dict[str, object]]] = {}

    @classmethod
    def target_of(cls, event_type: str, ids: Mapping[str, str]) -> str:
        """Version events name their model's unit: versions are parts of it."""
        entity_type = cls.events[event_type].entity_type
        if entity_type in (EntityType.MODEL, EntityType.MODEL_INSTANCE):
            return model_ref(ids["name"])
        if entity_type is EntityType.PIPELINE_RUN:
            return run_ref(ids["run_id"])
        return experiment_ref(ids["experiment_id"])

    @classmethod
    def unit_of(cls, entity_id: str) -> str:
        parsed = parse_aip_id(entity_id)
        if parsed.entity_type is EntityType.MODEL_INSTANCE:
            return model_ref(parsed.native_id.rpartition("/")[0])
        return entity_id

    async def hydrate(self, unit_id: str) -> HydrationResult:
        unit_id = self.unit_of(unit_id)
        parsed = parse_aip_id(unit_id)
        if parsed.source != self.source:
            raise ValueError(f"{unit_id} is not a unit of source {self.source!r}")
        kind, native = parsed.entity_type, parsed.native_id
        if kind is EntityType.MODEL:
            return await self._hydrate_model(unit_id, native)
        if kind in (EntityType.DATASET, EntityType.DATASET_VERSION):
            return Hydrated([describe_dataset(kind, native)])
        if kind is EntityType.PIPELINE_RUN:
            body = await self._get("runs/get", {"run_id": native}, unit_id)
            if body is None or _deleted(_object(body, "run"), "info"):
                return Gone(unit_id)
            return Hydrated([normalize_run(_object(body, "run"))])
        if kind is EntityType.PIPELINE:
            body = await self._get("experiments/get", {"experiment_id": native}, unit_id)
            if body is None or _deleted(body, "experiment"):
                return Gone(unit_id)
            return Hydrated([normalize_experiment(_object(body, "experiment"))])
        raise ValueError(f"{unit_id}: mlflow has no {kind}")

    async def _hydrate_model(self, unit_id: str, name: str) -> HydrationResult:
        body = await self._get("registered-models/get", {"name": name}, unit_id)
        if body is None:
            return Gone(unit_id)
        model = _object(body, "registered_model")
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

    async def _run_of_logged_model(self, model_id: str) -> str | None:
        body = await self._get(f"logged-models/{model_id}", None, model_id)
        if body is None:
            return None
        return optional(_object(_object(body, "model"), "info"), "source_run_id")

    async def _get(
        self, path: str, params: Mapping[str, str | int] | None, what: str
    ) -> Payload | None:
        body = await self.client.get_json(f"{API}/{path}", params)
        if isinstance(body, NotFound):
            return None
        return Payload(body, f"mlflow {path} ({what})")

    async def pages(
        self, path: str, key: str, params: Mapping[str, str | int]
    ) -> AsyncIterator[Payload]:
        """Every item of a paged MLflow search, uncached. A 404 means a wrong ``base_url``
        (or an MLflow without this API), never "nothing there"."""
        where = f"mlflow {path}"
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = {**params, **({"page_token": token} if token else {})}
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

    async def list_units(self) -> AsyncIterator[Listed]:
        """Registered models (with a token that changes with their versions, tags and
        aliases) and active experiments. Runs cannot be listed with a GET; reconciliation
        re-reads the ones it holds."""
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
        async for e in self.pages(
            "experiments/search",
            "experiments",
            {"max_results": EXPERIMENT_PAGE, "view_type": "ACTIVE_ONLY"},
        ):
            yield Listed(
                experiment_ref(e.id("experiment_id")), rfc3339(millis(e, "last_update_time"))
            )

    def invalidate(self, unit_id: str) -> None:
        parsed = parse_aip_id(self.unit_of(unit_id))
        paths = {
            EntityType.MODEL: ("registered-models/get", {"name": parsed.native_id}),
            EntityType.PIPELINE_RUN: ("runs/get", {"run_id": parsed.native_id}),
            EntityType.PIPELINE: ("experiments/get", {"experiment_id": parsed.native_id}),
        }
        if parsed.entity_type in paths:
            path, params = paths[parsed.entity_type]
            self.client.invalidate(self.client.url(f"{API}/{path}", params))

    def stats(self) -> dict[str, object]:
        return {**self.client.stats(), **{name: stats() for name, stats in self.services.items()}}


def _deleted(p: Payload, field: str) -> bool:
    """MLflow deletes runs and experiments softly; a deleted one is gone for mds (and comes
    back, like any entity, if it is restored)."""
    return _object(p, field).text("lifecycle_stage") == "deleted"
