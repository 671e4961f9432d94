"""MLflow's payloads read into the unified model: ids, entities, tags, owners, listing tokens.

Pure functions of what MLflow answered, apart from the connector that fetches it. The
mapping (ids are ``aip://KIND/mlflow/...``):

=====================  =================  ===============================================
MLflow                 entity type        native id
=====================  =================  ===============================================
registered model       Model              ``{name}``
model version          ModelInstance      ``{name}/{version}`` (a part of its model's unit)
logged model (3.x)     ModelInstance      ``{model_id}`` (``m-...``, a unit of its own)
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

MLflow describes a dataset only inside the runs that log it as an input, so a
DatasetVersion (immutable, content-addressed) is read from the newest run that has it
(``runs/search`` by dataset name and digest): its source type and URI, schema and profile.
A Dataset is its name alone. How a run used an input (its context: ``training``,
``evaluation``) is the run's, kept on it as an ``input`` tag.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag, aip_id
from mdsd.connectors.base import InvalidPayload, Timing, timing
from mdsd.connectors.ids import ref
from mdsd.connectors.payload import Payload, Scalar

SOURCE = "mlflow"
#: tags MLflow sets itself (``mlflow.*``) are read into attributes, not shown as tags
SYSTEM_TAG_PREFIX = "mlflow."
#: the tag MLflow marks the registered models that are really prompts with
PROMPT_TAG = "mlflow.prompt.is_prompt"
#: the alias that names a model's current version (MLflow's documented convention) ...
CURRENT_ALIAS = "champion"
#: ... else its newest version in this (deprecated, still common) stage
CURRENT_STAGE = "Production"
#: a metric's history keeps its latest this many moments (MLflow keeps any number)
MAX_SERIES_POINTS = 1000
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

#: How MLflow dates each kind's fields (contract 4). A version is registered from one run
#: of one model, and a run's experiment, inputs and source never change; aliases and tags
#: move without bumping any timestamp, so only when mds saw them says when they held.
TIMINGS: dict[EntityType, Timing] = {
    EntityType.MODEL: timing(undated=(Rel.CURRENT_INSTANCE, "aliases", "tags")),
    EntityType.MODEL_INSTANCE: timing(
        fixed=(
            Rel.INSTANCE_OF,
            Rel.PRODUCED_BY,
            Rel.DERIVED_FROM,
            "parent",
            "version",
            "source",
            "logged_model_id",
            "experiment_id",
        ),
        undated=("aliases", "tags"),
    ),
    EntityType.PIPELINE_RUN: timing(
        fixed=(
            Rel.RUN_OF,
            Rel.READS,
            "started_at",
            "experiment_id",
            "artifact_uri",
            "source_name",
            "source_type",
            "git_commit",
            "parent_run_id",
        ),
        undated=("tags", "description"),
    ),
    EntityType.PIPELINE: timing(fixed=("artifact_location",)),
    EntityType.DATASET_VERSION: timing(
        fixed=(
            Rel.VERSION_OF,
            "version",
            "dataset",
            "source_type",
            "source_uri",
            "schema",
            "profile",
        )
    ),
}


# -- ids ----------------------------------------------------------------------------------


def model_ref(name: str) -> str:
    return aip_id(EntityType.MODEL, SOURCE, name)


def version_ref(name: str, version: str) -> str:
    return aip_id(EntityType.MODEL_INSTANCE, SOURCE, f"{name}/{version}")


def logged_model_ref(model_id: str) -> str:
    """A logged model is a ModelInstance whose native id is MLflow's ``m-...`` model id
    (no ``/``, so never a version's ``{name}/{version}``)."""
    return aip_id(EntityType.MODEL_INSTANCE, SOURCE, model_id)


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
    attributes: Mapping[str, object] | None = None,
    relationships: Mapping[Rel, list[str]] | None = None,
    mentions: list[str] | None = None,
    created_at: str | None = None,
    updated_at: str | None = None,
    parent: str | None = None,
    series: dict[str, list[tuple[str, Scalar]]] | None = None,
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
        mentions=list(dict.fromkeys(mentions or [])),
        created_at=created_at,
        updated_at=updated_at,
        parent=parent,
        series={name: list(points) for name, points in (series or {}).items() if points},
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
        # MLflow names no owner for a registered model: those who registered its versions
        users=[v.text("user_id") for _, v in reversed(numbered)],
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
            # registered from a logged model: derived from it (and so, upstream, its run)
            Rel.DERIVED_FROM: [logged_model_ref(logged)] if logged else [],
        },
        created_at=rfc3339(millis(v, "creation_timestamp")),
        updated_at=rfc3339(millis(v, "last_updated_timestamp")),
        parent=unit,
    )


def metric_keys(data: Payload) -> list[str]:
    """The metrics a run (its ``data``) logged."""
    return list(dict.fromkeys(k for m in data.objects("metrics") if (k := m.text("key"))))


def metric_series(points: list[Payload]) -> list[tuple[str, Scalar]]:
    """One metric's history as (time, value), oldest first: the latest ``MAX_SERIES_POINTS``
    moments, and of values logged at one moment the one of the highest step."""
    at: dict[int, tuple[int, Scalar]] = {}
    for point in points:
        moment, step = millis(point, "timestamp"), millis(point, "step") or 0
        if moment is not None and step >= at.get(moment, (step, None))[0]:
            at[moment] = (step, point.scalar("value"))
    kept = sorted(at.items())[-MAX_SERIES_POINTS:]
    return [(rfc3339(moment) or "", value) for moment, (_, value) in kept]


def normalize_run(
    run: Payload, histories: Mapping[str, list[Payload]] | None = None
) -> NormalizedEntity:
    """A run (``runs/get``): its experiment, its dataset inputs, its params and metrics;
    ``histories`` (metric key -> its ``metrics/get-history`` points) become the series
    ``metric.{key}``, each value valid from the moment it was logged."""
    info = nested(run, "info")
    data = nested(run, "data")
    run_id = info.id("run_id", "run_uuid")
    tags = key_values(data, "tags")
    params = key_values(data, "params")
    metrics = {m.text("key"): m.text("value") for m in data.objects("metrics") if m.text("key")}
    inputs = [_dataset_input(i) for i in nested(run, "inputs").objects("dataset_inputs")]
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
        # the models it logged (MLflow 3): each says it was produced by this run
        mentions=[
            logged_model_ref(o.id("model_id"))
            for o in nested(run, "outputs").objects("model_outputs")
        ],
        # a run has no update time: it is created when it starts, and its status, metrics
        # and end are last changed when it ends (tags set later are undated, see TIMINGS)
        created_at=rfc3339(millis(info, "start_time")),
        updated_at=rfc3339(millis(info, "end_time")),
        series={f"metric.{k}": metric_series(v) for k, v in (histories or {}).items()},
    )


def normalize_logged_model(logged: Payload) -> NormalizedEntity:
    """A logged model (MLflow 3, ``logged-models/get``): a ModelInstance produced by its
    run, whatever registry versions are later made from it."""
    info, data = nested(logged, "info"), nested(logged, "data")
    model_id = info.id("model_id")
    tags = key_values(info, "tags")
    params = key_values(info, "params") | key_values(data, "params")
    metrics = {m.text("key"): m.text("value") for m in data.objects("metrics") if m.text("key")}
    run_id = optional(info, "source_run_id")
    return _entity(
        EntityType.MODEL_INSTANCE,
        model_id,
        info.text("name") or model_id,
        users=[tags.get("mlflow.user")],
        tags=[
            *user_tags(tags),
            *(Tag(f"param.{k}", _cut(v)) for k, v in params.items()),
            *(Tag(f"metric.{k}", v or "") for k, v in metrics.items() if k),
        ],
        attributes={
            "mlflow_kind": "logged_model",
            "mlflow_status": info.text("status"),
            "model_type": info.text("model_type"),
            "experiment_id": info.text("experiment_id"),
            "artifact_uri": info.text("artifact_uri"),
        },
        relationships={Rel.PRODUCED_BY: [run_ref(run_id)] if run_id else []},
        created_at=rfc3339(millis(info, "creation_timestamp_ms")),
        updated_at=rfc3339(millis(info, "last_updated_timestamp_ms")),
    )


def _dataset_input(item: Payload) -> tuple[str, Tag]:
    """A run's dataset input: the DatasetVersion it reads, and an ``input`` tag keeping what
    only the run knows (``iris@97ce029f (training) s3://bucket/iris.csv``)."""
    dataset = nested(item, "dataset")
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


def describe_dataset(name: str) -> NormalizedEntity:
    """A dataset, known by its name alone: MLflow keeps no dataset apart from its versions."""
    return _entity(EntityType.DATASET, name, name)


def dataset_version_parts(native_id: str) -> tuple[str, str]:
    """``iris@97ce029f`` -> (``iris``, ``97ce029f``); names may hold ``@``, digests never."""
    name, _, digest = native_id.rpartition("@")
    if not name or not digest:
        raise InvalidPayload(f"mlflow: dataset version id {native_id!r} is not NAME@DIGEST")
    return name, digest


def normalize_dataset_version(dataset: Payload) -> NormalizedEntity:
    """A dataset version as a run input states it: where it came from (source type and
    URI), its schema and its profile (both JSON MLflow keeps as strings, kept whole)."""
    name, digest = dataset.id("name"), dataset.id("digest")
    return _entity(
        EntityType.DATASET_VERSION,
        f"{name}@{digest}",
        f"{name}@{digest}",
        attributes={
            "version": digest,
            "dataset": name,
            "source_type": dataset.text("source_type"),
            "source_uri": _dataset_uri(dataset) or None,
            "schema": _json_text(dataset.text("schema")),
            "profile": _json_text(dataset.text("profile")),
        },
        relationships={Rel.VERSION_OF: [dataset_ref(name)]},
    )


def _json_text(text: str | None) -> object:
    """A JSON document MLflow keeps as a string, decoded; kept as the string if it is not
    JSON (still what the source says)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def nested(p: Payload, field: str) -> Payload:
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


def is_prompt(model: Payload) -> bool:
    """MLflow keeps prompts in the model registry, marked by a tag of its own; registry
    searches leave them out, but a get (for an event naming one) answers them. mds skips
    them: a prompt template is neither a model nor its lineage."""
    return key_values(model, "tags").get(PROMPT_TAG, "").lower() == "true"


def fingerprint(item: Payload) -> str:
    """A digest of everything a listing says of one item: it changes with any edit MLflow
    shows there, whether or not the edit moved a timestamp (tags, aliases, renames)."""
    text = json.dumps(item.data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def deleted(p: Payload, field: str) -> bool:
    """MLflow deletes runs and experiments softly; a deleted one is gone for mds (and comes
    back, like any entity, if it is restored)."""
    return nested(p, field).text("lifecycle_stage") == "deleted"
