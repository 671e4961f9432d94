"""MLflow's entities as an MLflow user reads them: a version by its stage and aliases and
the run that made it, a registered model by its versions, a run by its metrics (each a
small chart of its history), params and datasets. None of the reference platform's
deployment, features or "not tested" lines, which mean nothing for a registry version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from mds.client import Client
from mds.wire import JSON
from tui.asof import Moments
from tui.format import clip, duration, fmt_time, name_of, names, status_text
from tui.sections.parts import Section, attr, fetch_many, line, rels

#: how a metric's history is drawn: eight heights, low to high
BARS = "▁▂▃▄▅▆▇█"
#: the most points of a metric drawn (the latest); MLflow keeps far more
CHART_POINTS = 24
#: history transactions read for a run's metrics (each new point of every metric is one)
HISTORY_LIMIT = 1000
METRIC = "attr/metric."


def sparkline(values: Iterable[float]) -> str:
    """``▁▃▅█``: each value's height between the lowest and the highest."""
    points = list(values)[-CHART_POINTS:]
    if not points:
        return ""
    low, high = min(points), max(points)
    span = high - low
    top = len(BARS) - 1
    return "".join(BARS[round((p - low) / span * top) if span else top // 2] for p in points)


def metric_series(history: JSON) -> dict[str, list[tuple[str, float]]]:
    """Each metric's values (valid time, value), oldest first, from a run's history: every
    value is a fact valid from the moment MLflow logged it."""
    series: dict[str, dict[str, float]] = {}
    for tx in history.get("transactions", []):
        for change in tx.get("changes", []):
            name = str(change.get("attribute", ""))
            value = _number(change.get("value"))
            if change.get("op") == "assert" and name.startswith(METRIC) and value is not None:
                series.setdefault(name[len(METRIC) :], {})[str(change.get("valid"))] = value
    return {key: sorted(points.items()) for key, points in sorted(series.items())}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _tags(entity: JSON, prefix: str) -> list[tuple[str, str]]:
    return [
        (str(t["tag"])[len(prefix) :], str(t.get("value", "")))
        for t in entity.get("tags", [])
        if str(t.get("tag", "")).startswith(prefix)
    ]


async def version(client: Client, entity: JSON, moments: Moments) -> Section:
    """A registered version (or an MLflow 3 logged model): stage, aliases, the run."""
    body = Text()
    if attr(entity, "mlflow_kind") == "logged_model":
        line(body, "Logged model", attr(entity, "model_type") or "")
        if attr(entity, "mlflow_status"):
            body.append(f"  {attr(entity, 'mlflow_status')}", style="dim")
    else:
        line(body, "Version", str(attr(entity, "version") or "?"))
        stage = attr(entity, "stage")
        if stage:
            body.append("  stage ")
            body.append_text(status_text(stage))
        aliases = attr(entity, "aliases")
        if aliases:
            body.append(f"  aliases {aliases}", style="bold cyan")
    for run in await fetch_many(
        client, [r["target"] for r in rels(entity, "produced_by")], moments
    ):
        line(body, "Run", Text(name_of(run), style="bold"), "  ", status_text(attr(run, "status")))
    logged = rels(entity, "derived_from", "out")
    if logged:
        line(body, "From", names(logged, limit=2))
    if attr(entity, "source"):
        line(body, "Artifacts", Text(clip(attr(entity, "source"), 70), style="dim"))
    usage = await client.usage(entity["id"], **moments)
    tests = usage.get("ab_tests", [])
    if tests:  # only when some A/B platform names it: MLflow itself never does
        line(body, "A/B tests", names(tests, limit=4))
    shown = {"version", "stage", "aliases", "source", "mlflow_kind", "model_type"}
    return Section("MLflow version", body, shows=frozenset({*shown, "mlflow_status"}))


async def registered_model(client: Client, entity: JSON, moments: Moments) -> Section:
    """Its versions, newest first, each with its stage and aliases."""
    body = Text()
    ids = [r["target"] for r in rels(entity, "instance_of", "in")]
    versions = await fetch_many(client, ids, moments)
    versions.sort(key=lambda v: int(attr(v, "version") or 0), reverse=True)
    aliases = attr(entity, "aliases")
    if aliases:
        line(body, "Aliases", Text(str(aliases), style="bold cyan"))
    for found in versions:
        line(body, f"v{attr(found, 'version')}", status_text(attr(found, "stage") or "no stage"))
        if attr(found, "aliases"):
            body.append(f"  {attr(found, 'aliases')}", style="cyan")
        body.append(f"  {fmt_time(found.get('created_at'))}", style="dim")
    if not versions:
        line(body, "Versions", Text("none", style="dim"))
    elif len(ids) > len(versions):
        body.append(f"\n… {len(ids) - len(versions)} older versions", style="dim")
    return Section("Registered model", body, shows=frozenset({"aliases"}))


async def run(client: Client, entity: JSON, moments: Moments) -> Section:
    """Status and times, its experiment, metrics as charts of their history, params and
    the datasets it read (with their context: training, evaluation)."""
    body = Text()
    line(body, "Status", status_text(attr(entity, "status")))
    started, ended = attr(entity, "started_at"), attr(entity, "ended_at")
    line(body, "Ran", f"{fmt_time(started)} → {fmt_time(ended)}")
    took = duration(started, ended)
    if took:
        body.append(f"  ({took})", style="dim")
    experiment = rels(entity, "run_of", "out")
    if experiment:
        line(body, "Experiment", names(experiment, limit=1))
    history = await client.history(entity["id"], limit=HISTORY_LIMIT, **moments)
    charted = metric_series(history)
    last = {key: value for key, value in _tags(entity, "metric.")}
    for key in sorted(set(charted) | set(last)):
        points = charted.get(key, [])
        shown = f"{points[-1][1]:g}" if points else last.get(key, "")
        line(body, clip(key, 12), Text(shown, style="bold"))
        if len(points) > 1:
            body.append(f"  {sparkline(v for _, v in points)}", style="cyan")
            body.append(f"  {len(points)} points", style="dim")
    params = _tags(entity, "param.")
    if params:
        line(body, "Params", ", ".join(f"{k}={clip(v, 20)}" for k, v in params[:8]))
        if len(params) > 8:
            body.append(f" +{len(params) - 8}", style="dim")
    for _, read in _tags(entity, "input"):
        line(body, "Read", clip(read, 70))
    return Section("MLflow run", body, shows=frozenset({"status", "started_at", "ended_at"}))
