"""Turning daemon answers into text: type badges, names, highlights, times and staleness.

Everything from the daemon is data, never markup: it is put into ``rich.text.Text`` pieces
verbatim, so a ``[`` in a description can never restyle (or break) the screen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from mds.graph.labels import display_name, kind_label

#: entity_type -> its badge's colours (the text is ``mds.graph.labels``'s, as mds prints it)
BADGE_STYLES: dict[str, str] = {
    "Model": "bold white on #7c3aed",
    "ModelInstance": "bold white on #9333ea",
    "Pipeline": "bold white on #0369a1",
    "PipelineRun": "bold white on #0284c7",
    "Feature": "bold black on #facc15",
    "FeatureView": "bold black on #fde047",
    "FeatureService": "bold black on #fef08a",
    "Dataset": "bold white on #15803d",
    "DatasetVersion": "bold white on #16a34a",
    "Field": "bold black on #86efac",
    "AbTest": "bold white on #c2410c",
    "AbTestCell": "bold white on #ea580c",
    "User": "bold black on #94a3b8",
    "Team": "bold black on #cbd5e1",
}

STATUS_STYLES: dict[str, str] = {
    "production": "bold green",
    "staged": "yellow",
    "retired": "dim",
    "running": "cyan",
    "succeeded": "green",
    "failed": "bold red",
    "aborted": "red",
    "active": "bold green",
    "draft": "yellow",
    "concluded": "dim",
    "stub": "bold black on yellow",
    "deleted": "bold white on red",
    "resolved": "green",
}

_HIGHLIGHT = re.compile(r"(<b>|</b>)")


def badge(entity_type: str | None) -> Text:
    """The kind as a coloured badge; an unknown kind reversed."""
    style = BADGE_STYLES.get(entity_type or "", "reverse")
    return Text(f" {kind_label(entity_type):<5} ", style=style)


#: kinds ``/v1/usage`` answers for (models and instances, A/B tests and cells)
USAGE_KINDS = frozenset({"model", "model-instance", "ab-test", "ab-test-cell"})


def kind_of(entity_id: str | None) -> str:
    """The kind segment of an aip id (``aip://model/registry/x`` -> ``model``)."""
    if not entity_id or not entity_id.startswith("aip://"):
        return ""
    return entity_id[len("aip://") :].split("/", 1)[0]


def native_id(entity_id: str) -> str:
    """The readable tail of an aip id (``aip://model/registry/x`` -> ``x``)."""
    return entity_id.split("/", 4)[-1] if entity_id.startswith("aip://") else entity_id


def name_of(item: Mapping[str, Any]) -> str:
    """A person or entity's display name (``display_name``: a cell with its test's number);
    the id's tail only when there is no name."""
    return display_name(item) or native_id(str(item.get("id") or item.get("target") or "?"))


def names(items: Iterable[Mapping[str, Any]], limit: int = 3) -> str:
    people = [name_of(i) for i in items]
    if len(people) > limit:
        return ", ".join(people[:limit]) + f" +{len(people) - limit}"
    return ", ".join(people)


def highlighted(fragment: str | None, fallback: str, style: str = "bold reverse") -> Text:
    """Render the API's ``<b>..</b>`` match highlights; all other text stays literal."""
    if not fragment:
        return Text(fallback)
    text = Text()
    bold = False
    for part in _HIGHLIGHT.split(fragment):
        if part == "<b>":
            bold = True
        elif part == "</b>":
            bold = False
        elif part:
            text.append(html.unescape(part), style=style if bold else "")
    return text


def tags_text(tags: Iterable[Mapping[str, Any]], limit: int | None = None) -> Text:
    items = list(tags)
    shown = items if limit is None else items[:limit]
    text = Text()
    for tag in shown:
        if text:
            text.append(" ")
        value = tag.get("value")
        label = f"{tag.get('tag')}={value}" if value not in (None, "") else str(tag.get("tag"))
        text.append(label, style="italic cyan")
    if limit is not None and len(items) > limit:
        text.append(f" +{len(items) - limit}", style="dim")
    return text


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fmt_time(value: str | None) -> str:
    parsed = parse_time(value)
    if parsed is None:
        return value or "—"
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def duration(start: str | None, end: str | None) -> str:
    """``1h 02m``, ``12m 30s``, ``45s`` from ``start`` to ``end``; "" when either is unknown."""
    began, ended = parse_time(start), parse_time(end)
    if began is None or ended is None or ended < began:
        return ""
    seconds = int((ended - began).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def clock() -> datetime:
    """The explorer's clock for ages ("3d ago"): one place, so the looks of its screens
    can be tested at a pinned moment."""
    return datetime.now(UTC)


def ago(value: str | None, now: datetime | None = None) -> str:
    parsed = parse_time(value)
    if parsed is None:
        return "never"
    seconds = ((now or clock()) - parsed).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if future else f"{amount} ago"


def staleness_style(value: str | None, stale: bool | None, now: datetime | None = None) -> str:
    """Green when recently enriched, yellow after an hour, red when stale or never."""
    parsed = parse_time(value)
    if stale or parsed is None:
        return "bold red"
    age = ((now or clock()) - parsed).total_seconds()
    if age < 3600:
        return "green"
    return "yellow" if age < 86400 else "red"


def status_text(status: Any) -> Text:
    label = "—" if status in (None, "") else str(status)
    style = STATUS_STYLES.get(label.lower(), "")
    if label.lower() in {"stub", "deleted"}:
        label = f" {label.upper()} "
    return Text(label, style=style)


def entity_line(entity_type: str | None, name: str, note: str = "") -> Text:
    text = Text.assemble(badge(entity_type), " ", (name, "bold"))
    if note:
        text.append(f"  {note}", style="dim")
    return text


#: how much of a name a headline or a breadcrumb shows: a long one would take every line
TITLE_WIDTH = 48


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 A/B test``, ``3 A/B tests``: a count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def clip(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
