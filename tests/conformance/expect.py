"""What the contract says mds must answer about an ``Organisation``, computed from its
payloads and the rules of contract 1.3/1.4 (never from what mds happens to answer)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.conformance.platform import Organisation

ENTITY_TYPE = {
    "model": "Model",
    "model-instance": "ModelInstance",
    "pipeline": "Pipeline",
    "pipeline-run": "PipelineRun",
    "feature": "Feature",
    "dataset": "Dataset",
    "dataset-version": "DatasetVersion",
    "ab-test": "AbTest",
    "ab-test-cell": "AbTestCell",
    "user": "User",
    "team": "Team",
}
SOURCE = {
    "model": "registry",
    "model-instance": "registry",
    "pipeline": "orchestrator",
    "pipeline-run": "orchestrator",
    "feature": "featurestore",
    "dataset": "datasets",
    "dataset-version": "datasets",
    "ab-test": "experiments",
    "ab-test-cell": "experiments",
    "user": "identity",
    "team": "identity",
}


def uri(kind: str, native: object) -> str:
    """Contract 1.3: ``aip://{kind}/{source}/{native-id}``."""
    return f"aip://{kind}/{SOURCE[kind]}/{native}"


def kind_of(xid: str) -> str:
    return xid.removeprefix("aip://").split("/", 1)[0]


def instant(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, by an independent reading: ``t``/``z``
    in either case, a space for ``T``, any number of fractional digits."""
    if not text:
        return None
    date, sep, rest = text[:10], text[10], text[11:]
    assert sep in "Tt ", text
    rest = rest.upper().replace("Z", "+00:00")
    clock, sign, zone = rest[:-6], rest[-6], rest[-5:]
    assert sign in "+-", text
    whole, _, frac = clock.partition(".")
    micros = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{date}T{whole}.{micros}{sign}{zone}")


@dataclass
class Expected:
    id: str
    entity_type: str
    name: str
    description: str | None = None
    owners: set[str] = field(default_factory=set)
    tags: set[tuple[str, str]] = field(default_factory=set)
    #: declared relationships this entity's payload (or its unit's) points out of it
    out: set[str] = field(default_factory=set)
    #: relationship targets mds may show either way or not at all (a model's instance list)
    optional: set[str] = field(default_factory=set)
    updated_at: datetime | None = None


@dataclass
class Graph:
    """The organisation as the contract normalizes it."""

    entities: dict[str, Expected]
    #: declared edges (source, target)
    edges: set[tuple[str, str]]
    #: (instance, AbTest or AbTestCell) implied by the tested_in rule
    tested_in: set[tuple[str, str]]
    #: references to entities their source does not hold (remain stubs)
    dangling: set[str]
    #: (run, input DatasetVersion): the runs' ``input_dataset_versions``
    reads: set[tuple[str, str]] = field(default_factory=set)

    def incoming(self, xid: str) -> set[str]:
        return {s for s, t in self.edges if t == xid}


def resolve_owner(org: Organisation, email: str) -> str | None:
    """The user whose email is ``email``, compared case-insensitively; None if nobody's."""
    for native, user in org.items("users"):
        if str(user.get("email") or "").strip().lower() == email.strip().lower():
            return uri("user", native)
    return None


def teams_of(org: Organisation, user: str) -> set[str]:
    """The teams of a user, as either side states it: the user's ``team_ids`` or a team's
    ``member_ids`` (both optional, so either may be all there is)."""
    native = user.rsplit("/", 1)[1]
    payload = org.get("users", native) or {}
    teams = {uri("team", t) for t in _ids(payload, "team_ids")}
    teams |= {
        uri("team", t) for t, team in org.items("teams") if native in _ids(team, "member_ids")
    }
    return teams


def _ids(payload: dict[str, Any], name: str) -> list[str]:
    return [str(v) for v in payload.get(name) or [] if v is not None]


def graph(org: Organisation) -> Graph:
    entities: dict[str, Expected] = {}
    reads: set[tuple[str, str]] = set()

    def add(kind: str, native: str, payload: dict[str, Any], name: str | None = None) -> Expected:
        owners = {resolve_owner(org, e) for e in payload.get("owner_emails") or []}
        tags = {(t["key"], t["value"]) for t in payload.get("labels") or []}
        item = Expected(
            id=uri(kind, native),
            entity_type=ENTITY_TYPE[kind],
            name=name or payload.get("name") or native,
            description=payload.get("description"),
            owners={o for o in owners if o},
            tags=tags,
            updated_at=instant(payload.get("updated_at")),
        )
        entities[item.id] = item
        return item

    def dv(ref: dict[str, Any]) -> str:
        return uri("dataset-version", f"{ref['dataset_id']}@{ref['version']}")

    for native, p in org.items("models"):
        m = add("model", native, p)
        if p.get("current_instance_id"):
            m.out.add(uri("model-instance", p["current_instance_id"]))
        m.optional |= {uri("model-instance", i) for i in _ids(p, "instance_ids")}
    for native, p in org.items("instances"):
        i = add("model-instance", native, p)
        if p.get("model_id"):
            i.out.add(uri("model", p["model_id"]))
        if p.get("pipeline_run_id"):
            i.out.add(uri("pipeline-run", p["pipeline_run_id"]))
        i.out |= {uri("feature", f) for f in _ids(p, "feature_ids")}
    for native, p in org.items("pipelines"):
        pl = add("pipeline", native, p)
        pl.out |= {uri("dataset", d) for d in _ids(p, "output_dataset_ids")}
    for native, p in org.items("pipeline-runs"):
        r = add("pipeline-run", native, p)
        if p.get("pipeline"):
            r.out.add(uri("pipeline", p["pipeline"]))
        inputs = {dv(v) for v in p.get("input_dataset_versions") or []}
        reads |= {(r.id, v) for v in inputs}
        r.out |= inputs
        r.out |= {dv(v) for v in p.get("output_dataset_versions") or []}
        r.out |= {
            uri("ab-test-cell", f"{c['test_id']}/{c['cell_number']}")
            for c in p.get("ab_test_cells") or []
        }
    for native, p in org.items("features"):
        f = add("feature", native, p)
        f.out |= {uri("dataset", d) for d in _ids(p, "source_dataset_ids")}
    for native, p in org.items("tests"):
        add("ab-test", native, p)
        for cell in p.get("cells") or []:
            c = add("ab-test-cell", f"{native}/{cell['cell_number']}", cell, cell.get("name"))
            c.out.add(uri("ab-test", native))
    for native, p in org.items("datasets"):
        d = add("dataset", native, p)
        d.out |= {uri("dataset", u) for u in _ids(p, "upstream_dataset_ids")}
        for v in p.get("versions") or []:
            version = f"{native}@{v['version']}"
            item = add("dataset-version", version, v, version)
            item.out.add(d.id)
    for native, p in org.items("users"):
        u = add("user", native, p)
        u.out |= {uri("team", t) for t in _ids(p, "team_ids")}
    for native, p in org.items("teams"):
        add("team", native, p)

    edges = {(e.id, t) for e in entities.values() for t in e.out}
    dangling = {t for _, t in edges if t not in entities}
    tested: set[tuple[str, str]] = set()
    for instance in (e for e in entities.values() if e.entity_type == "ModelInstance"):
        for run in instance.out:
            if kind_of(run) != "pipeline-run" or run not in entities:
                continue
            for cell in entities[run].out:
                if kind_of(cell) != "ab-test-cell" or cell not in entities:
                    continue
                for test in entities[cell].out:
                    if test in entities:
                        tested |= {(instance.id, cell), (instance.id, test)}
    return Graph(entities, edges, tested, dangling, reads)


# -- lineage (contract 1.4) ---------------------------------------------------------------


def _closure(start: Iterable[str], step: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    queue = deque(start)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(step.get(node, ()))
    return seen


def _of_kind(g: Graph, xid: str, kind: str) -> set[str]:
    return {t for t in g.entities[xid].out if kind_of(t) == kind} if xid in g.entities else set()


def _upstream_datasets(g: Graph, datasets: Iterable[str]) -> set[str]:
    step = {x: _of_kind(g, x, "dataset") for x in g.entities if kind_of(x) == "dataset"}
    return _closure(datasets, step)


def required_upstream(g: Graph, instance: str) -> set[str]:
    """What contract 1.4 lists upstream of a ModelInstance: its PipelineRun and Pipeline,
    the run's input DatasetVersions and their Datasets, its Features, the Features' source
    Datasets, and those Datasets' upstream Datasets, transitively."""
    found: set[str] = set()
    datasets: set[str] = set()
    for run in _of_kind(g, instance, "pipeline-run"):
        found.add(run)
        found |= _of_kind(g, run, "pipeline")
        for _, version in (r for r in g.reads if r[0] == run):
            found.add(version)
            datasets |= _of_kind(g, version, "dataset")
    for feature in _of_kind(g, instance, "feature"):
        found.add(feature)
        datasets |= _of_kind(g, feature, "dataset")
    return found | _upstream_datasets(g, datasets)


def required_downstream(g: Graph, dataset: str) -> set[str]:
    """What contract 1.4 lists downstream of a Dataset: derived Datasets (transitively),
    Features built on them, runs that read them, the ModelInstances and Models those feed,
    the AbTests testing those instances."""
    derived_step: dict[str, set[str]] = {}
    for s, t in g.edges:
        if kind_of(s) == "dataset" and kind_of(t) == "dataset":
            derived_step.setdefault(t, set()).add(s)
    datasets = _closure([dataset], derived_step)
    features = {s for s, t in g.edges if kind_of(s) == "feature" and t in datasets}
    versions = {s for s, t in g.edges if kind_of(s) == "dataset-version" and t in datasets}
    runs = {run for run, version in g.reads if version in versions}
    instances = {
        s for s, t in g.edges if kind_of(s) == "model-instance" and (t in runs or t in features)
    }
    models = {t for s, t in g.edges if s in instances and kind_of(t) == "model"}
    tests = {t for i, t in g.tested_in if i in instances and kind_of(t) == "ab-test"}
    return (datasets - {dataset}) | features | runs | instances | models | tests
