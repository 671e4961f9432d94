"""Human output of ``mds``: plain, aligned text (greppable, no colour, no box drawing
beyond a lineage tree), written defensively: every key but the documented core may be
missing, and every list may be empty. ``--json`` bypasses all of this."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from typing import Any

from mds.graph.labels import display_name
from mds.wire import JSON
from mds.wire.columns import FIELD_TYPE, how
from mds.wire.model import AIP_PREFIX

from .spec import Out

Row = Sequence[Any]


# -- small formatting helpers -----------------------------------------------------------


def text(value: Any) -> str:
    """One cell: ``-`` for nothing, lists joined, structures as compact JSON."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def short(entity_id: Any) -> str:
    """``aip://model/registry/ranking-model`` -> ``ranking-model``, for compact lists."""
    value = str(entity_id)
    if value.startswith(AIP_PREFIX):
        parts = value[len(AIP_PREFIX) :].split("/", 2)
        if len(parts) == 3:
            return parts[2]
    return value


def label(ref: Any) -> str:
    """A reference given either as an id or as an ``{"id", "name"}`` object, named briefly."""
    if isinstance(ref, dict):
        return display_name(ref) or short(ref.get("id"))
    return short(ref)


def badge(entity_type: Any) -> str:
    return f"[{entity_type or '?'}]"


def named(item: JSON, *, id_key: str = "id", type_key: str | None = "entity_type") -> str:
    """``[Type] name  id``: the way an entity is mentioned everywhere."""
    entity_id = item.get(id_key)
    name = item.get("name") or short(entity_id)
    prefix = f"{badge(item.get(type_key))} " if type_key and item.get(type_key) else ""
    return f"{prefix}{name}  {entity_id}" if entity_id else f"{prefix}{name}"


def people(items: Iterable[Any]) -> str:
    """Owners and teams: ``Alice <aip://user/identity/alice>``, or the id alone."""
    shown = []
    for item in items:
        if isinstance(item, dict):
            name, entity_id = item.get("name"), item.get("id")
            shown.append(f"{name} <{entity_id}>" if name and entity_id else text(name or entity_id))
        else:
            shown.append(str(item))
    return ", ".join(shown) or "-"


def aligned(headers: Sequence[str], rows: Iterable[Row], *, indent: int = 0) -> list[str]:
    """The header and rows as lines, columns aligned on the widest cell (last unpadded)."""
    cells = [[str(h) for h in headers]] + [[text(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    pad = " " * indent

    def line(row: list[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        return (pad + "  ".join([*padded, row[-1]])).rstrip()

    return [line(row) for row in cells]


def table(out: Out, headers: Sequence[str], rows: Iterable[Row], *, indent: int = 0) -> None:
    """An aligned table; nothing at all (not even the header) when there are no rows."""
    lines = aligned(headers, rows, indent=indent)
    for line in lines if len(lines) > 1 else []:
        out.line(line)


def key_values(out: Out, doc: JSON, *, indent: int = 0, skip: Iterable[str] = ()) -> None:
    """``key  value`` lines; nested mappings become indented sections, and a mapping of
    mappings (``sources``) or a list of mappings (``failing_units``) a table."""
    pad = " " * indent
    skipped = set(skip)

    def records(value: Any) -> bool:
        return bool(value) and isinstance(value, list) and all(isinstance(v, dict) for v in value)

    def section(value: Any) -> bool:
        return isinstance(value, dict) or records(value)

    shown = [(k, v) for k, v in doc.items() if k not in skipped]
    width = max((len(k) for k, v in shown if not section(v)), default=0)
    for key, value in shown:
        if not section(value):
            out.line(f"{pad}{key.ljust(width)}  {text(value)}".rstrip())
    for key, value in shown:
        if not section(value):
            continue
        out.line(f"{pad}{key}:" + ("  -" if not value else ""))
        if records(value):
            columns = list(dict.fromkeys(c for v in value for c in v))
            table(out, columns, [[v.get(c) for c in columns] for v in value], indent=indent + 2)
        elif value and all(isinstance(v, dict) for v in value.values()):
            columns = list(dict.fromkeys(c for v in value.values() for c in v))
            rows = [[name, *(v.get(c) for c in columns)] for name, v in value.items()]
            table(out, ["", *columns], rows, indent=indent + 2)
        else:
            key_values(out, value, indent=indent + 2)


def as_of_footer(doc: JSON, out: Out) -> None:
    """Say which view answered, when the daemon says so: its system basis (the transaction
    and its time) and, when it is not the latest, its valid time."""
    view = doc.get("as_of")
    if not isinstance(view, dict):
        return
    basis = f"tx {text(view.get('tx'))}, {text(view.get('at'))}"
    valid = view.get("valid_time")
    if valid is None:
        out.line(f"\n(as of {basis})")
    else:
        out.line(f"\n(as of {text(valid)} valid time; as mds knew it at {basis})")


# -- renderers, one per answer shape ----------------------------------------------------


def mapping(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    if not doc:
        out.note("the daemon answered with an empty document")
    key_values(out, doc, skip=("as_of",))


def pretty_json(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    out.line(json.dumps(doc, indent=2, ensure_ascii=False))


def ingest(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    rejected = doc.get("rejected") or []
    duplicates = doc.get("duplicates") or 0
    seen = f" ({text(duplicates)} already seen by event_id)" if duplicates else ""
    out.line(f"accepted {text(doc.get('accepted', 0))}{seen}, rejected {len(rejected)}")
    for item in rejected:
        out.note(f"event {text(item.get('index'))} rejected: {text(item.get('reason'))}")
    if rejected:
        out.note("rejected events are kept in the dead letters: see `mds dead-letters`")


def search(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    results = doc.get("results") or []
    if not results:
        out.note("no results")
        return
    rows = [
        [badge(r.get("entity_type")), r.get("name"), r.get("id"), r.get("score")] for r in results
    ]
    table(out, ["TYPE", "NAME", "ID", "SCORE"], rows)


def _relationships(out: Out, relationships: Sequence[JSON]) -> None:
    """Grouped by direction then type; inferred edges name their rule and path."""
    groups: dict[tuple[str, str], list[JSON]] = {}
    for rel in relationships:
        key = (str(rel.get("direction") or "out"), str(rel.get("type") or "?"))
        groups.setdefault(key, []).append(rel)
    for direction, rel_type in sorted(groups, key=lambda k: (k[0] != "out", k[1])):
        out.line(f"  → {rel_type}" if direction == "out" else f"  ← {rel_type}")
        for rel in groups[(direction, rel_type)]:
            target = {
                "id": rel.get("target"),
                "name": rel.get("target_name"),
                "entity_type": rel.get("target_type"),
            }
            line = f"      {named(target)}"
            if rel.get("inferred"):
                provenance = rel.get("provenance") or {}
                line += f"  (inferred: {text(provenance.get('rule'))})"
                if provenance.get("path"):
                    line += "\n        via " + " → ".join(short(p) for p in provenance["path"])
            out.line(line)


def entity(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    out.line(f"{doc.get('name') or short(doc.get('id'))} {badge(doc.get('entity_type'))}")
    status = text(doc.get("status"))
    if doc.get("stale"):
        status += ", stale"
    owners = doc.get("owners_resolved") or doc.get("owners") or []
    tags = [
        f"{t.get('tag')}={t.get('value')}" if t.get("value") not in (None, "") else t.get("tag")
        for t in doc.get("tags") or []
    ]
    fields = {
        "id": doc.get("id"),
        "status": status,
        "description": doc.get("description"),
        "owners": people(owners),
        "tags": tags,
        "created": doc.get("created_at"),
        "updated": doc.get("updated_at"),
        "last enriched": doc.get("last_enriched_at"),
    }
    attributes = doc.get("attributes")
    key_values(out, {**fields, **({"attributes": attributes} if attributes else {})}, indent=2)
    relationships = doc.get("relationships") or []
    out.line(f"relationships ({len(relationships)})" + (":" if relationships else ""))
    _relationships(out, relationships)


def neighbors(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    items = doc.get("neighbors") or []
    out.line(f"neighbors of {text(doc.get('id'))} ({len(items)})" + (":" if items else ""))
    _relationships(
        out,
        [
            {
                "type": n.get("type"),
                "direction": n.get("direction"),
                "target": n.get("id"),
                "target_name": n.get("name"),
                "target_type": n.get("entity_type"),
            }
            for n in items
        ],
    )


def lineage(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """An indented tree: each node hangs under one neighbour one level closer to the root
    (a DAG shown as its breadth-first spanning tree), and its other such neighbours are
    named under it as "also", so no edge of the walk goes unsaid. A field's lineage
    (``--field``) names each field with its dataset and each edge by its transformations."""
    root = doc.get("root")
    nodes = {n.get("id"): n for n in doc.get("nodes") or []}
    nodes.setdefault(root, {"id": root, "depth": 0})
    linked: dict[Any, list[tuple[Any, str]]] = {}
    for edge in doc.get("edges") or []:
        source, target, rel = edge.get("source"), edge.get("target"), how(edge)
        linked.setdefault(source, []).append((target, rel))
        linked.setdefault(target, []).append((source, rel))
    children: dict[Any, list[tuple[Any, str]]] = {}
    also: dict[Any, list[tuple[Any, str]]] = {}
    placed = {root}
    for node in sorted(nodes.values(), key=lambda n: (n.get("depth") or 0, str(n.get("name")))):
        node_id, depth = node.get("id"), node.get("depth") or 0
        if node_id in placed:
            continue
        parents = [
            (other, rel)
            for other, rel in linked.get(node_id, [])
            if other in placed and (nodes.get(other, {}).get("depth") or 0) == depth - 1
        ]
        parent, rel = parents[0] if parents else (root, "?")
        children.setdefault(parent, []).append((node_id, rel))
        also[node_id] = parents[1:]
        placed.add(node_id)

    direction = doc.get("direction") or getattr(args, "direction", "")
    out.line(f"{direction} lineage, {len(nodes) - 1} node(s):")
    out.line(_node(nodes[root]))

    def walk(parent: Any, prefix: str) -> None:
        kids = children.get(parent, [])
        for i, (child, rel) in enumerate(kids):
            last = i == len(kids) - 1
            out.line(f"{prefix}{'└─' if last else '├─'} {rel}  {_node(nodes[child])}")
            inner = prefix + ("   " if last else "│  ")
            for other, other_rel in also.get(child, []):
                out.line(f"{inner}   (also {other_rel}  {nodes[other].get('name') or other})")
            walk(child, inner)

    walk(root, "")


def _node(node: JSON) -> str:
    """An entity as ``named`` says it; a field as ``[Field] dataset.field (type)  id``."""
    if node.get("entity_type") != FIELD_TYPE or not node.get("field"):
        return named(node)
    dataset = node.get("dataset_name") or short(node.get("dataset"))
    kind = f" ({node['type']})" if node.get("type") else ""
    return f"{badge(FIELD_TYPE)} {dataset}.{node['field']}{kind}  {node.get('id')}"


def _groups(out: Out, groups: Sequence[JSON]) -> None:
    """One table split by entity type, aligned across the groups; each group says how
    many of its entities are in each lifecycle stage (live ones come first)."""
    rows = [
        [
            [
                e.get("name") or short(e.get("id")),
                e.get("stage") or "",
                ", ".join(e.get("owners") or []),
                e.get("depth"),
                e.get("id"),
            ]
            for e in g.get("entities") or []
        ]
        for g in groups
    ]
    header, *lines = aligned(
        ["NAME", "STAGE", "OWNERS", "DEPTH", "ID"], [r for group in rows for r in group], indent=2
    )
    for group, group_rows in zip(groups, rows, strict=True):
        stages = ", ".join(f"{n} {stage}" for stage, n in (group.get("stages") or {}).items())
        count = text(group.get("count", len(group_rows)))
        out.line(f"{text(group.get('entity_type'))} ({count}{': ' + stages if stages else ''})")
        if group_rows:
            out.line(header)
        for line in lines[: len(group_rows)]:
            out.line(line)
        lines = lines[len(group_rows) :]


def impact(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    groups = doc.get("groups") or []
    out.line(f"impact of {text(doc.get('root'))}: {text(doc.get('total', 0))} downstream")
    _groups(out, groups)
    notify = doc.get("notify") or {}
    out.line("notify:")
    shown = {
        "owners": people(notify.get("owners") or []),
        "teams": people(notify.get("teams") or []),
    }
    if notify.get("unresolved"):
        shown["unresolved (no identity source knows them)"] = people(notify["unresolved"])
    key_values(out, shown, indent=2)


def dependencies(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    groups = doc.get("groups") or []
    total = sum(int(g.get("count") or len(g.get("entities") or [])) for g in groups)
    out.line(f"dependencies of {text(doc.get('root'))}: {total} upstream")
    _groups(out, groups)


def usage(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """Two shapes: a model's or instance's A/B tests, or an A/B test's instances."""

    def cells(item: JSON) -> str:
        return ", ".join(label(c) for c in item.get("cells") or [])

    if "ab_tests" in doc:
        tests = doc.get("ab_tests") or []
        out.line(f"A/B tests of {text(doc.get('id'))} ({len(tests)})")
        rows = [
            [
                t.get("status"),
                t.get("name"),
                t.get("id"),
                cells(t),
                [label(v) for v in t.get("via") or []],
            ]
            for t in tests
        ]
        table(out, ["STATUS", "NAME", "ID", "CELLS", "VIA"], rows, indent=2)
    if "instances" in doc or "models" in doc:
        instances = doc.get("instances") or []
        out.line(f"instances tested in {text(doc.get('id'))} ({len(instances)})")
        rows = [[i.get("name"), i.get("id"), label(i.get("model")), cells(i)] for i in instances]
        table(out, ["NAME", "ID", "MODEL", "CELLS"], rows, indent=2)
        models = doc.get("models") or []
        out.line(f"models ({len(models)})")
        table(out, ["NAME", "ID"], [[m.get("name"), m.get("id")] for m in models], indent=2)
    if not {"ab_tests", "instances", "models"} & doc.keys():
        out.note(f"no usage recorded for {text(doc.get('id'))}")


def path(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """Hop by hop; ↓ when the edge points along the path, ↑ when against it."""
    hops = doc.get("path") or []
    edges = doc.get("edges") or []
    for i, node in enumerate(hops):
        if i:
            prev, here = hops[i - 1].get("id"), node.get("id")
            arrow, rel = "↓", "?"
            for edge in edges:
                if (edge.get("source"), edge.get("target")) == (prev, here):
                    arrow, rel = "↓", edge.get("type")
                    break
                if (edge.get("source"), edge.get("target")) == (here, prev):
                    arrow, rel = "↑", edge.get("type")
                    break
            out.line(f"  {arrow} {rel}")
        out.line(named(node))
    if not hops:
        out.note(f"no path from {text(doc.get('from'))} to {text(doc.get('to'))}")
    elif doc.get("via_people"):
        out.note("connected only through owners and teams, not through lineage")


def _first(ids: Sequence[Any], count: int) -> str:
    """``a, b, c +2 more``: a long id list in one cell."""
    more = f" +{len(ids) - count} more" if len(ids) > count else ""
    return ", ".join(short(i) for i in ids[:count]) + more


def _cause(cause: Any) -> str:
    if isinstance(cause, dict):
        return " ".join(f"{k}={text(v)}" for k, v in cause.items()) or "-"
    return text(cause)


def notice(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """One change of ``mds watch`` on one line: transaction, time, what it touched, cause."""
    entities = doc.get("entities") or []
    touched = f"{len(entities)} {'entity' if len(entities) == 1 else 'entities'}"
    cause = _cause(doc.get("cause"))
    out.line(
        f"tx {text(doc.get('tx'))}  {text(doc.get('at'))}  {touched}: {_first(entities, 4)}"
        + ("" if cause == "-" else f"  ({cause})")
    )


def _valid_span(t: JSON) -> str | None:
    earliest, latest = t.get("earliest_valid"), t.get("latest_valid")
    return earliest if earliest == latest else f"{text(earliest)}..{text(latest)}"


def history(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """Per entity: transactions (recorded at their system time) with +/- datoms, each
    valid from its own time. Globally: one line per transaction, with the span of valid
    times it stated."""
    transactions = doc.get("transactions") or []
    if not transactions:
        out.note("no transactions")
    if "id" not in doc:
        rows = [
            [
                t.get("tx"),
                t.get("at"),
                _valid_span(t),
                t.get("datoms"),
                _cause(t.get("cause")),
                _first(t.get("entities") or [], 3),
            ]
            for t in transactions
        ]
        table(out, ["TX", "RECORDED", "VALID", "DATOMS", "CAUSE", "ENTITIES"], rows)
        return
    out.line(f"history of {text(doc.get('id'))} (tx recorded at; each change valid from)")
    for t in transactions:
        cause = f"  {_cause(t['cause'])}" if t.get("cause") else ""
        out.line(f"tx {text(t.get('tx'))}  recorded {text(t.get('at'))}{cause}")
        for change in t.get("changes") or []:
            sign = {"assert": "+", "retract": "-"}.get(str(change.get("op")), "?")
            value = json.dumps(change.get("value"), ensure_ascii=False)
            named = f"  ({text(change['target_name'])})" if change.get("target_name") else ""
            valid = f"  valid {text(change['valid'])}" if change.get("valid") else ""
            out.line(f"  {sign} {text(change.get('attribute'))} {value}{named}{valid}")


def dead_letters(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    letters = doc.get("dead_letters") or []
    if not letters:
        out.note("no dead letters")
        return
    rows = [[d.get("id"), d.get("received_at"), d.get("origin"), d.get("reason")] for d in letters]
    table(out, ["ID", "RECEIVED", "ORIGIN", "REASON"], rows)


def redrive(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    out.line(f"redriven {text(doc.get('redriven', 0))}, rejected {text(doc.get('rejected', 0))}")


def reconcile(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    if doc.get("started"):
        out.line(f"reconciliation pass {text(doc.get('pass'))} started")
    else:
        mapping(doc, args, out)


def wait(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    state = "idle" if doc.get("idle") else "not idle"
    counts = {k: doc[k] for k in ("pending", "stubs", "last_tx") if k in doc}
    out.line(
        state + ("  " + " ".join(f"{k}={text(v)}" for k, v in counts.items()) if counts else "")
    )


def similar(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    items = doc.get("similar") or []
    if not items:
        out.note(f"nothing similar to {text(doc.get('id'))}")
        return
    rows = [
        [s.get("name"), s.get("id"), s.get("score"), len(s.get("shared_features") or [])]
        for s in items
    ]
    table(out, ["NAME", "ID", "SCORE", "SHARED FEATURES"], rows)


def suggestions(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    items = doc.get("suggestions") or []
    if not items:
        out.note(f"no suggestions for {text(doc.get('id'))}")
        return
    rows = []
    for s in items:
        feature = s.get("feature") or {}
        because = [short(m) for m in s.get("because") or []]
        rows.append([feature.get("name"), feature.get("id"), s.get("score"), because])
    table(out, ["FEATURE", "ID", "SCORE", "BECAUSE"], rows)


def quality(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """The summary, then every list the daemon reports (new checks show up unchanged)."""
    summary = doc.get("summary")
    if isinstance(summary, dict):
        out.line("summary:")
        key_values(out, summary, indent=2)
    for key, items in doc.items():
        if not isinstance(items, list):
            continue
        out.line(f"{key} ({len(items)})" + (":" if items else ""))
        entries = [i if isinstance(i, dict) else {"id": i} for i in items]
        reasons = any(e.get("reason") for e in entries)
        rows = [
            [badge(e.get("entity_type")), e.get("name"), e.get("id")]
            + ([e.get("reason")] if reasons else [])
            for e in entries
        ]
        table(out, ["TYPE", "NAME", "ID"] + (["REASON"] if reasons else []), rows, indent=2)
