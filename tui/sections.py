"""Per-type sections of the entity page: the few facts that matter for each kind of entity.

The page itself is generic (header, attributes, relationships); a kind adds small sections
here, each built from the ``entity`` answer plus at most a couple of extra calls. A new
entity type simply has no sections and still gets the generic page.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from mds.client import ApiError, Client
from mds.wire import JSON
from mds.wire.columns import FIELD_TYPE, field_id
from tui.asof import Moments, said_moments
from tui.errors import describe_failure
from tui.format import clip, duration, fmt_time, name_of, names, native_id, status_text
from tui.nav import Location

#: how many related entities a section fetches to show their details
FETCH_LIMIT = 12
#: attributes a section lays out whole, so the page's one-line attribute list leaves them
#: out (a schema or a column lineage clipped to 40 characters of JSON says nothing)
LAID_OUT = frozenset({"fields", "column_lineage", "output_column_lineage"})


@dataclass
class Link:
    """An entity a section points at; the page lists it with the relationships."""

    group: str
    id: str
    name: str
    entity_type: str | None = None
    note: str = ""
    #: the page Enter opens instead of the entity's (a field's column lineage)
    opens: Location | None = None


@dataclass
class Section:
    title: str
    body: Text
    links: list[Link] = field(default_factory=list)


Loader = Callable[[Client, JSON, Moments], Awaitable[Section | None]]


def rels(entity: JSON, rel_type: str, direction: str | None = None) -> list[JSON]:
    return [
        r
        for r in entity.get("relationships", [])
        if r.get("type") == rel_type and (direction is None or r.get("direction") == direction)
    ]


async def fetch_many(client: Client, ids: Iterable[str], moments: Moments) -> list[JSON]:
    """Fetch up to :data:`FETCH_LIMIT` entities concurrently; ones that vanished are skipped."""
    gate = asyncio.Semaphore(6)

    async def one(entity_id: str) -> JSON | None:
        async with gate:
            try:
                return await client.entity(entity_id, **moments)
            except ApiError:
                return None

    found = await asyncio.gather(*(one(i) for i in list(dict.fromkeys(ids))[:FETCH_LIMIT]))
    return [doc for doc in found if doc is not None]


def _line(body: Text, label: str, *values: Text | str) -> None:
    if body:
        body.append("\n")
    body.append(f"{label:<13}", style="bold")
    for value in values:
        body.append_text(value if isinstance(value, Text) else Text(value))


def _attr(doc: JSON, key: str) -> Any:
    return (doc.get("attributes") or {}).get(key)


def _model_name(instance: JSON) -> str:
    """The name of the model a usage answer's instance belongs to (``{"id", "name"}``)."""
    model = instance.get("model")
    return clip(name_of(model), 40) if model else ""


def _when(doc: JSON) -> str:
    return str(_attr(doc, "deployed_at") or _attr(doc, "created_at") or doc.get("created_at") or "")


async def model_instance(client: Client, entity: JSON, moments: Moments) -> Section:
    body = Text()
    _line(body, "Deployment", status_text(_attr(entity, "status")))
    if _attr(entity, "version") is not None:
        body.append(f"  version {_attr(entity, 'version')}")
    if _attr(entity, "deployed_at"):
        body.append(f"  deployed {fmt_time(_attr(entity, 'deployed_at'))}", style="dim")
    runs = rels(entity, "produced_by", "out")
    for run in await fetch_many(client, [r["target"] for r in runs], moments):
        _line(
            body,
            "Produced by",
            Text(name_of(run), style="bold"),
            "  ",
            status_text(_attr(run, "status")),
        )
    features = rels(entity, "uses_feature", "out")
    _line(body, "Features", f"{len(features)}: {names(features, limit=6)}" if features else "none")
    links: list[Link] = []
    usage = await client.usage(entity["id"], **moments)
    tests = usage.get("ab_tests", [])
    if not tests:
        _line(body, "A/B tests", Text("not tested", style="dim"))
    for test in tests:
        cells = ", ".join(name_of(c) for c in test.get("cells", []))
        _line(
            body,
            "A/B test",
            Text(name_of(test), style="bold"),
            "  ",
            status_text(test.get("status")),
        )
        if cells:
            body.append(f"  cells: {cells}", style="dim")
        links.append(
            Link("A/B tests", test["id"], name_of(test), "AbTest", str(test.get("status") or ""))
        )
        links += [
            Link("A/B cells", c["id"], name_of(c), "AbTestCell") for c in test.get("cells", [])
        ]
    return Section("Instance", body, links)


async def model(client: Client, entity: JSON, moments: Moments) -> Section:
    current = {r["target"] for r in rels(entity, "current_instance", "out")}
    instances = await fetch_many(
        client, [r["target"] for r in rels(entity, "instance_of", "in")], moments
    )
    body = Text()
    if not instances:
        body.append("no instances", style="dim")
    for doc in sorted(instances, key=_when, reverse=True):
        if body:
            body.append("\n")
        body.append(f"{fmt_time(_when(doc)) if _when(doc) else '—':<17}", style="dim")
        body.append(f"v{_attr(doc, 'version')}  " if _attr(doc, "version") is not None else "")
        body.append_text(status_text(_attr(doc, "status")))
        body.append(f"  {name_of(doc)}")
        if doc["id"] in current:
            body.append("  ◀ current", style="bold green")
    total = len(rels(entity, "instance_of", "in"))
    if total > len(instances):
        body.append(
            f"\n… {total - len(instances)} older instances in the relationships below", style="dim"
        )
    return Section("Instances over time", body)


async def model_suggestions(client: Client, entity: JSON, moments: Moments) -> Section:
    similar, suggestions = await asyncio.gather(
        client.similar(entity["id"], limit=5, **moments),
        client.suggestions(entity["id"], limit=5, **moments),
    )
    body = Text()
    links: list[Link] = []
    for item in similar.get("similar", []):
        shared = len(item.get("shared_features", []))
        _line(body, "Similar", Text(name_of(item), style="bold"), f"  {shared} shared features")
        links.append(
            Link(
                "≈ similar models",
                item["id"],
                name_of(item),
                "Model",
                f"score {item.get('score', 0):.2f}",
            )
        )
    for item in suggestions.get("suggestions", []):
        feature = item.get("feature", {})
        because = len(item.get("because", []))
        _line(
            body,
            "Try feature",
            Text(name_of(feature), style="bold"),
            f"  used by {because} similar models",
        )
        links.append(
            Link(
                "+ suggested features",
                feature.get("id", ""),
                name_of(feature),
                "Feature",
                f"score {item.get('score', 0):.2f}",
            )
        )
    if not body:
        body.append("no similar models", style="dim")
    return Section("Similar models and suggestions", body, links)


async def dataset(client: Client, entity: JSON, moments: Moments) -> Section:
    versions = await fetch_many(
        client,
        sorted((r["target"] for r in rels(entity, "version_of", "in")), reverse=True),
        moments,
    )
    body = Text()
    previous: int | None = None
    for doc in sorted(versions, key=_when):
        rows = _attr(doc, "row_count")
        if body:
            body.append("\n")
        body.append(f"{fmt_time(_when(doc)):<17}", style="dim")
        body.append(f"{_attr(doc, 'version') or name_of(doc)}  ")
        if isinstance(rows, int):
            body.append(f"{rows:,} rows")
            if previous is not None and rows != previous:
                delta = rows - previous
                body.append(f" ({delta:+,})", style="green" if delta > 0 else "red")
            previous = rows
    if not versions:
        body.append("no versions", style="dim")
    lineage = await client.lineage(entity["id"], direction="downstream", depth=2, **moments)
    consumers = [
        n
        for n in lineage.get("nodes", [])
        if n.get("id") != entity["id"] and n.get("entity_type") != "DatasetVersion"
    ]
    counts = Counter(str(n.get("entity_type")) for n in consumers)
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.most_common()) or "none"
    _line(body, "Consumers", summary)
    links = [Link("consumers", n["id"], name_of(n), n.get("entity_type")) for n in consumers]
    return Section("Versions", body, links)


async def dataset_fields(client: Client, entity: JSON, moments: Moments) -> Section | None:
    """Its fields (name, type, description), from its schema and its column lineage; each
    is a row whose Enter opens where the field comes from and where it goes."""
    schema = [f for f in _attr(entity, "fields") or [] if isinstance(f, dict) and f.get("name")]
    lineage = _attr(entity, "column_lineage")
    derived = (lineage.get("fields") if isinstance(lineage, dict) else None) or {}
    fields = {str(f["name"]): f for f in schema}
    for name in derived:
        fields.setdefault(str(name), {"name": name})
    if not fields:
        return None
    width = min(max(len(name) for name in fields), 24)
    body = Text()
    links = []
    for name, described in fields.items():
        if body:
            body.append("\n")
        body.append(f"{clip(name, width):<{width}}  ", style="bold")
        body.append(f"{clip(described.get('type') or '', 14):<14}  ", style="cyan")
        inputs = len(derived.get(name) or [])
        if inputs:
            body.append(f"← {inputs}  ", style="green")
        body.append(clip(described.get("description") or "", 30), style="dim")
        kind = described.get("type")
        links.append(
            Link(
                "fields · enter: lineage",
                field_id(entity["id"], name),
                f"{name}  {kind}" if kind else name,  # read at a glance in the list
                FIELD_TYPE,
                clip(described.get("description") or "", 40),
                Location("field", entity["id"], {"field": name}),
            )
        )
    return Section(f"Fields ({len(fields)})", body, links)


async def pipeline(client: Client, entity: JSON, moments: Moments) -> Section:
    run_ids = sorted((r["target"] for r in rels(entity, "run_of", "in")), reverse=True)
    runs = await fetch_many(client, run_ids, moments)
    body = Text()
    for run in sorted(runs, key=lambda d: str(_attr(d, "started_at") or ""), reverse=True):
        if body:
            body.append("\n")
        body.append(f"{fmt_time(_attr(run, 'started_at')):<17}", style="dim")
        body.append_text(status_text(_attr(run, "status")))
        attempts = _attr(run, "attempts")
        if attempts:
            body.append(
                f"  {attempts} attempt{'s' if attempts != 1 else ''}",
                style="yellow" if attempts > 1 else "dim",
            )
        body.append(f"  {name_of(run)}")
    if not runs:
        body.append("no runs", style="dim")
    elif len(run_ids) > len(runs):
        body.append(f"\n… {len(run_ids) - len(runs)} more runs below", style="dim")
    return Section("Runs", body)


async def pipeline_run(client: Client, entity: JSON, moments: Moments) -> Section:
    body = Text()
    _line(body, "Status", status_text(_attr(entity, "status")))
    attempts = _attr(entity, "attempts")
    if attempts:
        body.append(f"  attempt {attempts}", style="yellow" if attempts > 1 else "dim")
        if _attr(entity, "last_attempt_status"):
            body.append(f" (last: {_attr(entity, 'last_attempt_status')})", style="dim")
    started, ended = _attr(entity, "started_at"), _attr(entity, "ended_at")
    _line(body, "Ran", f"{fmt_time(started)} → {fmt_time(ended)}")
    took = duration(started, ended)
    if took:
        body.append(f"  ({took})", style="dim")
    for label, rel in (
        ("Job", "run_of"),
        ("Parent run", "parent_run"),
        ("Reads", "reads"),
        ("Writes", "writes"),
        ("For cells", "ran_for"),
    ):
        found = rels(entity, rel, "out")
        if found:
            _line(body, label, names(found, limit=4))
    error = _attr(entity, "error_message")
    if error:
        language = _attr(entity, "error_language")
        _line(body, "Error", Text(clip(error, 300), style="red"))
        if language:
            body.append(f"  ({language})", style="dim")
    return Section("Run", body)


async def feature(client: Client, entity: JSON, moments: Moments) -> Section:
    body = Text()
    sources = rels(entity, "derived_from", "out")
    _line(
        body,
        "Source data",
        names(sources, limit=5) if sources else Text("none declared", style="dim"),
    )
    lineage = await client.lineage(entity["id"], direction="downstream", depth=2, **moments)
    nodes = lineage.get("nodes", [])
    models = [n for n in nodes if n.get("entity_type") == "Model"]
    instances = [n for n in nodes if n.get("entity_type") == "ModelInstance"]
    _line(body, "Used by", f"{len(models)} models via {len(instances)} instances")
    links = [Link("consuming models", n["id"], name_of(n), "Model") for n in models]
    return Section("Feature", body, links)


async def ab_test(client: Client, entity: JSON, moments: Moments) -> Section:
    usage = await client.usage(entity["id"], **moments)
    by_cell: dict[str, list[str]] = {}
    cell_names: dict[str, str] = {}
    for inst in usage.get("instances", []):
        for cell in inst.get("cells", []):
            cell_names[cell["id"]] = name_of(cell)
            by_cell.setdefault(cell["id"], []).append(name_of(inst))
    for rel in rels(entity, "cell_of", "in"):
        cell_names.setdefault(rel["target"], name_of(rel))
    body = Text()
    _line(body, "Status", status_text(_attr(entity, "status")))
    for cell_id in sorted(cell_names):
        tested = by_cell.get(cell_id, [])
        _line(
            body,
            f"Cell {native_id(cell_id).rsplit('/', 1)[-1]}",
            Text(cell_names[cell_id], style="bold"),
            "  ",
        )
        body.append(", ".join(tested) if tested else "no instance", style="" if tested else "dim")
    links = [
        Link("instances", i["id"], name_of(i), "ModelInstance", _model_name(i))
        for i in usage.get("instances", [])
    ]
    links += [Link("models", m["id"], name_of(m), "Model") for m in usage.get("models", [])]
    return Section("Cells", body, links)


async def owner(client: Client, entity: JSON, moments: Moments) -> Section:
    owned = rels(entity, "owned_by", "in")
    counts = Counter(str(r.get("target_type") or "?") for r in owned)
    body = Text()
    _line(body, "Owns", ", ".join(f"{n} {kind}" for kind, n in counts.most_common()) or "nothing")
    members = rels(entity, "member_of", "in")
    if members:
        _line(body, "Members", names(members, limit=8))
    teams = rels(entity, "member_of", "out")
    if teams:
        _line(body, "Teams", names(teams, limit=8))
    return Section("Ownership", body)


SECTIONS: dict[str, tuple[Loader, ...]] = {
    "ModelInstance": (model_instance,),
    "Model": (model, model_suggestions),
    "Dataset": (dataset_fields, dataset),
    "Pipeline": (pipeline,),
    "PipelineRun": (pipeline_run,),
    "Feature": (feature,),
    "AbTest": (ab_test,),
    "User": (owner,),
    "Team": (owner,),
}


async def load_sections(client: Client, entity: JSON, moments: Moments) -> list[Section]:
    """Every section of the entity's type; one that fails says so instead of hiding the rest."""
    loaders = SECTIONS.get(str(entity.get("entity_type")), ())

    async def run(loader: Loader) -> Section | None:
        try:
            return await loader(client, entity, moments)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = describe_failure(exc, said_moments(**moments))
            title = loader.__name__.replace("_", " ")
            return Section(title, Text(failure.message, style="red"))

    found = await asyncio.gather(*(run(loader) for loader in loaders))
    return [s for s in found if s is not None]
