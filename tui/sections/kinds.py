"""The sections of each kind of entity, as the reference platform (and OpenLineage)
describe them: a model's instances, an instance's deployment, run and A/B tests, a
dataset's fields, a run's job and error."""

from __future__ import annotations

import asyncio
from collections import Counter

from rich.text import Text

from mds.client import Client
from mds.wire import JSON
from mds.wire.columns import FIELD_TYPE, field_id
from tui.asof import Moments
from tui.format import clip, duration, fmt_time, name_of, names, native_id, status_text
from tui.nav import Location
from tui.sections.parts import Link, Section, attr, fetch_many, line, rels


def _model_name(instance: JSON) -> str:
    """The name of the model a usage answer's instance belongs to (``{"id", "name"}``)."""
    model = instance.get("model")
    return clip(name_of(model), 40) if model else ""


def _when(doc: JSON) -> str:
    return str(attr(doc, "deployed_at") or attr(doc, "created_at") or doc.get("created_at") or "")


async def model_instance(client: Client, entity: JSON, moments: Moments) -> Section:
    body = Text()
    line(body, "Deployment", status_text(attr(entity, "status")))
    if attr(entity, "version") is not None:
        body.append(f"  version {attr(entity, 'version')}")
    if attr(entity, "deployed_at"):
        body.append(f"  deployed {fmt_time(attr(entity, 'deployed_at'))}", style="dim")
    runs = rels(entity, "produced_by", "out")
    for run in await fetch_many(client, [r["target"] for r in runs], moments):
        line(
            body,
            "Produced by",
            Text(name_of(run), style="bold"),
            "  ",
            status_text(attr(run, "status")),
        )
    features = rels(entity, "uses_feature", "out")
    line(body, "Features", f"{len(features)}: {names(features, limit=6)}" if features else "none")
    links: list[Link] = []
    usage = await client.usage(entity["id"], **moments)
    tests = usage.get("ab_tests", [])
    if not tests:
        line(body, "A/B tests", Text("not tested", style="dim"))
    for test in tests:
        cells = ", ".join(name_of(c) for c in test.get("cells", []))
        line(
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
    return Section("Instance", body, links, frozenset({"status", "version", "deployed_at"}))


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
        body.append(f"v{attr(doc, 'version')}  " if attr(doc, "version") is not None else "")
        body.append_text(status_text(attr(doc, "status")))
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
        line(body, "Similar", Text(name_of(item), style="bold"), f"  {shared} shared features")
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
        line(
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
    if versions:  # a table: its columns named
        body.append(f"{'created':<17}{'version':<12}rows (change)", style="bold dim")
    previous: int | None = None
    for doc in sorted(versions, key=_when):
        rows = attr(doc, "row_count")
        if body:
            body.append("\n")
        body.append(f"{fmt_time(_when(doc)):<17}", style="dim")
        body.append(f"{attr(doc, 'version') or name_of(doc):<12}")
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
    line(body, "Consumers", summary)
    links = [Link("consumers", n["id"], name_of(n), n.get("entity_type")) for n in consumers]
    return Section("Versions", body, links)


async def dataset_fields(client: Client, entity: JSON, moments: Moments) -> Section | None:
    """Its fields (name, type, description), from its schema and its column lineage; each
    is a row whose Enter opens where the field comes from and where it goes."""
    schema = [f for f in attr(entity, "fields") or [] if isinstance(f, dict) and f.get("name")]
    lineage = attr(entity, "column_lineage")
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
    for run in sorted(runs, key=lambda d: str(attr(d, "started_at") or ""), reverse=True):
        if body:
            body.append("\n")
        body.append(f"{fmt_time(attr(run, 'started_at')):<17}", style="dim")
        body.append_text(status_text(attr(run, "status")))
        attempts = attr(run, "attempts")
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
    line(body, "Status", status_text(attr(entity, "status")))
    attempts = attr(entity, "attempts")
    if attempts:
        body.append(f"  attempt {attempts}", style="yellow" if attempts > 1 else "dim")
        if attr(entity, "last_attempt_status"):
            body.append(f" (last: {attr(entity, 'last_attempt_status')})", style="dim")
    started, ended = attr(entity, "started_at"), attr(entity, "ended_at")
    line(body, "Ran", f"{fmt_time(started)} → {fmt_time(ended)}")
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
            line(body, label, names(found, limit=4))
    error = attr(entity, "error_message")
    if error:
        language = attr(entity, "error_language")
        line(body, "Error", Text(clip(error, 300), style="red"))
        if language:
            body.append(f"  ({language})", style="dim")
    shown = {"status", "attempts", "last_attempt_status", "started_at", "ended_at"}
    shown |= {"error_message", "error_language", "error_stack_trace"}
    return Section("Run", body, shows=frozenset(shown))


async def feature(client: Client, entity: JSON, moments: Moments) -> Section:
    body = Text()
    sources = rels(entity, "derived_from", "out")
    line(
        body,
        "Source data",
        names(sources, limit=5) if sources else Text("none declared", style="dim"),
    )
    views = _ends(entity, "derived_from", "out", "FeatureView")
    services = _ends(entity, "uses_feature", "in", "FeatureService")
    if views or services:
        line(body, "In views", names(views, limit=4) or Text("none", style="dim"))
        line(body, "Served by", names(services, limit=4) or Text("no service", style="dim"))
    # a Feast feature reaches models through the services serving it: one hop further
    depth = 3 if services else 2
    lineage = await client.lineage(entity["id"], direction="downstream", depth=depth, **moments)
    nodes = lineage.get("nodes", [])
    models = [n for n in nodes if n.get("entity_type") == "Model"]
    instances = [n for n in nodes if n.get("entity_type") == "ModelInstance"]
    line(body, "Used by", f"{len(models)} models via {len(instances)} instances")
    links = [Link("consuming models", n["id"], name_of(n), "Model") for n in models]
    links += [Link("feature views", r["target"], name_of(r), "FeatureView") for r in views]
    links += [Link("feature services", r["target"], name_of(r), "FeatureService") for r in services]
    return Section("Feature", body, links)


def _ends(entity: JSON, rel_type: str, direction: str, entity_type: str) -> list[JSON]:
    """The relationships of one type and direction whose other end is of ``entity_type``."""
    return [r for r in rels(entity, rel_type, direction) if r.get("target_type") == entity_type]


def _duration(seconds: int | None) -> Text:
    """A Feast TTL: whole days or hours where it is one, 0 being forever."""
    if seconds is None:
        return Text("none", style="dim")
    if seconds == 0:
        return Text("forever")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return Text(f"{seconds // size}{unit}")
    return Text(f"{seconds}s")


async def feature_view(client: Client, entity: JSON, moments: Moments) -> Section:
    """A Feast feature view: its entities and join keys, source, features and TTL; all of it
    is on the entity itself, so no further call."""
    body = Text()
    line(body, "Kind", str(attr(entity, "view_type") or "?").replace("_", "-"))
    keyed = [f"{e.get('name')} ({e.get('join_key')})" for e in attr(entity, "entities") or []]
    line(body, "Entities", ", ".join(keyed) or Text("none", style="dim"))
    sources = rels(entity, "derived_from", "out")
    requests = attr(entity, "request_sources") or []
    inputs = [name_of(r) for r in sources] + [f"{name} (request)" for name in requests]
    line(body, "Source", ", ".join(inputs) or Text("none declared", style="dim"))
    features = _ends(entity, "derived_from", "in", "Feature")
    line(body, "Features", names(features, limit=8) or Text("none", style="dim"))
    line(body, "TTL", _duration(attr(entity, "ttl_seconds")))
    links = [Link("features", r["target"], name_of(r), "Feature") for r in features]
    shown = frozenset({"view_type", "entities", "request_sources", "ttl_seconds"})
    return Section("Feature view", body, links, shown)


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
    line(body, "Status", status_text(attr(entity, "status")))
    for cell_id in sorted(cell_names):
        tested = by_cell.get(cell_id, [])
        line(
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
    return Section("Cells", body, links, frozenset({"status"}))


async def owner(client: Client, entity: JSON, moments: Moments) -> Section:
    owned = rels(entity, "owned_by", "in")
    counts = Counter(str(r.get("target_type") or "?") for r in owned)
    body = Text()
    line(body, "Owns", ", ".join(f"{n} {kind}" for kind, n in counts.most_common()) or "nothing")
    members = rels(entity, "member_of", "in")
    if members:
        line(body, "Members", names(members, limit=8))
    teams = rels(entity, "member_of", "out")
    if teams:
        line(body, "Teams", names(teams, limit=8))
    return Section("Ownership", body)
