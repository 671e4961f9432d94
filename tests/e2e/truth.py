"""The graph the contract says a simulator world must become, computed from its raw records.

Written from the contract alone (1.3, and 3 for OpenLineage runs; not from the connectors),
so the end-to-end tests check the daemon against the specification rather than against
itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


@dataclass
class Expected:
    id: str
    entity_type: str
    name: str
    owners: set[str] = field(default_factory=set)
    tags: set[tuple[str, str]] = field(default_factory=set)
    #: (relationship type, target id) of the entity's outgoing declared edges
    out: set[tuple[str, str]] = field(default_factory=set)


def _aip(kind: str, source: str, native: str) -> str:
    return f"aip://{kind}/{source}/{native}"


def expected_graph(truth: dict[str, Any]) -> tuple[dict[str, Expected], set[str]]:
    """(live entities by id, ids of entities the world deleted)."""
    c = truth["collections"]
    user_of_email = {
        u["email"].lower(): _aip("user", "identity", u["id"]) for u in c["users"].values()
    }
    graph: dict[str, Expected] = {}

    def add(entity: Expected, record: dict[str, Any] | None = None) -> Expected:
        if record is not None:
            entity.owners = {
                user_of_email[e.lower()]
                for e in record.get("owner_emails") or []
                if e.lower() in user_of_email
            }
            entity.tags = {(label["key"], label["value"]) for label in record.get("labels") or []}
            if entity.owners:
                entity.out |= {("owned_by", o) for o in entity.owners}
        graph[entity.id] = entity
        return entity

    def version_id(ref: dict[str, str]) -> str:
        return _aip("dataset-version", "datasets", f"{ref['dataset_id']}@{ref['version']}")

    for r in c["models"].values():
        e = add(Expected(_aip("model", "registry", r["id"]), "Model", r.get("name") or r["id"]), r)
        if r.get("current_instance_id"):
            e.out.add(
                ("current_instance", _aip("model-instance", "registry", r["current_instance_id"]))
            )
    for r in c["instances"].values():
        e = add(
            Expected(
                _aip("model-instance", "registry", r["id"]),
                "ModelInstance",
                r.get("name") or r["id"],
            ),
            r,
        )
        e.out.add(("instance_of", _aip("model", "registry", r["model_id"])))
        if r.get("pipeline_run_id"):
            e.out.add(("produced_by", _aip("pipeline-run", "orchestrator", r["pipeline_run_id"])))
        e.out |= {
            ("uses_feature", _aip("feature", "featurestore", f)) for f in r.get("feature_ids") or []
        }
    for r in c["pipelines"].values():
        e = add(
            Expected(
                _aip("pipeline", "orchestrator", r["id"]), "Pipeline", r.get("name") or r["id"]
            ),
            r,
        )
        e.out |= {
            ("outputs", _aip("dataset", "datasets", d)) for d in r.get("output_dataset_ids") or []
        }
    for r in c["pipeline-runs"].values():
        e = add(
            Expected(_aip("pipeline-run", "orchestrator", r["run_id"]), "PipelineRun", r["run_id"])
        )
        e.out.add(("run_of", _aip("pipeline", "orchestrator", r["pipeline"])))
        e.out |= {("reads", version_id(v)) for v in r.get("input_dataset_versions") or []}
        e.out |= {("writes", version_id(v)) for v in r.get("output_dataset_versions") or []}
        e.out |= {
            (
                "ran_for",
                _aip("ab-test-cell", "experiments", f"{cell['test_id']}/{cell['cell_number']}"),
            )
            for cell in r.get("ab_test_cells") or []
        }
    for r in c["features"].values():
        e = add(
            Expected(_aip("feature", "featurestore", r["id"]), "Feature", r.get("name") or r["id"]),
            r,
        )
        e.out |= {
            ("derived_from", _aip("dataset", "datasets", d))
            for d in r.get("source_dataset_ids") or []
        }
    for r in c["tests"].values():
        test = _aip("ab-test", "experiments", str(r["test_id"]))
        add(Expected(test, "AbTest", r.get("name") or str(r["test_id"])), r)
        for cell in r.get("cells") or []:
            cell_id = _aip("ab-test-cell", "experiments", f"{r['test_id']}/{cell['cell_number']}")
            add(Expected(cell_id, "AbTestCell", cell["name"], out={("cell_of", test)}))
    for r in c["datasets"].values():
        dataset = _aip("dataset", "datasets", r["id"])
        e = add(Expected(dataset, "Dataset", r.get("name") or r["id"]), r)
        e.out |= {
            ("derived_from", _aip("dataset", "datasets", d))
            for d in r.get("upstream_dataset_ids") or []
        }
        for v in r.get("versions") or []:
            name = f"{r['id']}@{v['version']}"
            add(
                Expected(
                    _aip("dataset-version", "datasets", name),
                    "DatasetVersion",
                    name,
                    out={("version_of", dataset)},
                )
            )
    for r in c["users"].values():
        e = add(Expected(_aip("user", "identity", r["id"]), "User", r.get("name") or r["id"]))
        e.out |= {("member_of", _aip("team", "identity", t)) for t in r.get("team_ids") or []}
    for r in c["teams"].values():
        add(Expected(_aip("team", "identity", r["id"]), "Team", r.get("name") or r["id"]))

    for run in truth.get("lineage", {}).get("runs", []):
        _lineage_run(run, truth["lineage"]["namespaces"], user_of_email, add)

    kinds = {
        "models": ("model", "registry"),
        "instances": ("model-instance", "registry"),
        "pipelines": ("pipeline", "orchestrator"),
        "pipeline-runs": ("pipeline-run", "orchestrator"),
        "features": ("feature", "featurestore"),
        "tests": ("ab-test", "experiments"),
        "datasets": ("dataset", "datasets"),
        "users": ("user", "identity"),
        "teams": ("team", "identity"),
    }
    deleted = {
        _aip(*kinds[coll], str(native)) for coll, ids in truth["deleted"].items() for native in ids
    }
    deleted |= {  # a deleted test's cells are deleted with it
        _aip("ab-test-cell", "experiments", f"{test}/{number}")
        for test, numbers in truth.get("deleted_cells", {}).items()
        for number in numbers
    }
    return graph, deleted


def dangling_targets(graph: dict[str, Expected]) -> set[str]:
    """Ids the world refers to but does not hold: the daemon keeps them as stubs."""
    return {target for e in graph.values() for _, target in e.out} - set(graph)


def implied_edges(graph: dict[str, Expected]) -> dict[str, set[str]]:
    """Per ModelInstance, the AbTestCells and AbTests contract 1.4 infers it is tested in:
    instance --produced_by--> run --ran_for--> cell --cell_of--> test, all held."""

    def targets(xid: str, rel: str) -> set[str]:
        entity = graph.get(xid)
        return {t for r, t in entity.out if r == rel and t in graph} if entity else set()

    implied: dict[str, set[str]] = {}
    for xid, entity in graph.items():
        if entity.entity_type != "ModelInstance":
            continue
        for run in targets(xid, "produced_by"):
            for cell in targets(run, "ran_for"):
                for test in targets(cell, "cell_of"):
                    implied.setdefault(xid, set()).update({cell, test})
    return implied


def _encoded(part: str) -> str:
    """A namespace or name in an OpenLineage id: every byte but ``A-Za-z0-9-._~`` escaped."""
    return quote(part, safe="")


def _lineage_dataset(ref: dict[str, str], namespaces: dict[str, str]) -> str:
    source = namespaces.get(ref["namespace"])
    if source is not None:  # a mapped namespace: the source's own dataset
        return _aip("dataset", source, ref["name"])
    return _aip("dataset", "openlineage", f"{_encoded(ref['namespace'])}/{_encoded(ref['name'])}")


def _lineage_run(
    run: dict[str, Any],
    namespaces: dict[str, str],
    user_of_email: dict[str, str],
    add: Callable[[Expected], Expected],
) -> None:
    """What one OpenLineage run (its START and COMPLETE) makes: its job (owned by the users
    of its owner emails, a user keyed by the email where identity knows none), the run
    (named by the job and the end of its id), and the datasets of unmapped namespaces."""
    job = run["job"]
    job_id = _aip(
        "pipeline", "openlineage", f"{_encoded(job['namespace'])}/{_encoded(job['name'])}"
    )
    owners = set()
    for email in run["owner_emails"]:
        owner = user_of_email.get(email.lower())
        if owner is None:
            owner = _aip("user", "openlineage", _encoded(email.lower()))
            add(Expected(owner, "User", email))
        owners.add(owner)
    add(Expected(job_id, "Pipeline", job["name"], owners, out={("owned_by", o) for o in owners}))
    name = f"{job['name']} {run['run_id'].replace('-', '')[-8:]}"
    entity = add(Expected(_aip("pipeline-run", "openlineage", run["run_id"]), "PipelineRun", name))
    entity.out.add(("run_of", job_id))
    versions: list[Expected] = []
    for read in run["inputs"]:
        entity.out.add(("reads", _lineage_dataset(read, namespaces)))
    for written in run["outputs"]:
        dataset = _lineage_dataset(written, namespaces)
        entity.out.add(("writes", dataset))
        if "version" in written:
            source, native = dataset.split("/", 4)[3:]
            version = _aip("dataset-version", source, f"{native}@{written['version']}")
            entity.out.add(("writes", version))
            if written["namespace"] not in namespaces:  # else its own source describes it
                versions.append(
                    Expected(
                        version,
                        "DatasetVersion",
                        f"{native}@{written['version']}",
                        out={("version_of", dataset)},
                    )
                )
    for ref in [*run["inputs"], *run["outputs"]]:
        if ref["namespace"] not in namespaces:
            add(Expected(_lineage_dataset(ref, namespaces), "Dataset", ref["name"]))
    for version in versions:
        add(version)
