"""The simulator's ground truth in the daemon's terms: aip ids, and what contract 1.4 says
lineage must contain, computed from the source records rather than from the graph; and
events as the JSON lines every door of intake takes.

Expectations are built from the records a source serves (``World.truth()``), so a test
that compares them with an API answer checks hydration, normalization, enrichment and the
query together, without restating how ``mdsd.reads.queries`` walks the graph.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mds.wire.model import EntityType
from mdsd.connectors.ids import cell_native, dataset_version_native, ref

Record = dict[str, Any]

#: simulator collection -> the entity type of its records
TYPE_OF_COLLECTION: dict[str, EntityType] = {
    "models": EntityType.MODEL,
    "instances": EntityType.MODEL_INSTANCE,
    "pipelines": EntityType.PIPELINE,
    "pipeline-runs": EntityType.PIPELINE_RUN,
    "features": EntityType.FEATURE,
    "tests": EntityType.AB_TEST,
    "datasets": EntityType.DATASET,
    "users": EntityType.USER,
    "teams": EntityType.TEAM,
}
KEY_FIELD = {"pipeline-runs": "run_id", "tests": "test_id"}


def jsonl(events: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def aip(collection: str, native_id: str) -> str:
    return ref(TYPE_OF_COLLECTION[collection], native_id)


def version_id(dataset_id: str, version: str) -> str:
    return ref(EntityType.DATASET_VERSION, dataset_version_native(dataset_id, version))


def cell_id(test_id: str, cell_number: int | str) -> str:
    return ref(EntityType.AB_TEST_CELL, cell_native(test_id, str(cell_number)))


@dataclass(frozen=True)
class Truth:
    """One snapshot of the world (``World.truth()``), with the look-ups tests need."""

    collections: dict[str, dict[str, Record]]

    @classmethod
    def of(cls, snapshot: dict[str, Any]) -> Truth:
        return cls(snapshot["collections"])

    def __getitem__(self, collection: str) -> dict[str, Record]:
        return self.collections[collection]

    def records(self, collection: str) -> Iterator[tuple[str, Record]]:
        """(aip id, record) of a collection, in native id order (deterministic picks)."""
        for native in sorted(self[collection]):
            yield aip(collection, native), self[collection][native]

    def record(self, xid: str) -> Record | None:
        """The source record behind an aip id of a unit (not of a version or a cell)."""
        for collection, entity_type in TYPE_OF_COLLECTION.items():
            prefix = ref(entity_type, "")
            if xid.startswith(prefix):
                return self[collection].get(xid[len(prefix) :])
        return None

    # -- people -------------------------------------------------------------------------------

    def owners(self, record: Record) -> set[str]:
        """User ids of a record's ``owner_emails`` (identity resolves emails the same way)."""
        by_email = {u["email"]: native for native, u in self["users"].items()}
        return {
            aip("users", by_email[e]) for e in record.get("owner_emails") or [] if e in by_email
        }

    def teams(self, users: Iterable[str]) -> set[str]:
        prefix = ref(EntityType.USER, "")
        return {
            aip("teams", team)
            for user in users
            for team in self["users"][user[len(prefix) :]]["team_ids"]
        }

    # -- lineage (contract 1.4) ---------------------------------------------------------------

    def upstream_datasets(self, dataset_ids: Iterable[str]) -> set[str]:
        """The native ids of the datasets and, transitively, their upstream datasets."""
        seen: set[str] = set()
        todo = list(dataset_ids)
        while todo:
            native = todo.pop()
            if native in seen or native not in self["datasets"]:
                continue
            seen.add(native)
            todo += self["datasets"][native]["upstream_dataset_ids"]
        return seen

    def derived_datasets(self, dataset_id: str) -> set[str]:
        """``dataset_id`` and every dataset derived from it, transitively (native ids)."""
        derived = {dataset_id}
        grew = True
        while grew:
            found = {
                native
                for native, d in self["datasets"].items()
                if derived & set(d["upstream_dataset_ids"])
            }
            grew = not found <= derived
            derived |= found
        return derived

    def upstream_of_instance(self, native: str) -> set[str]:
        """Its run and pipeline, the run's input versions and their datasets, its features
        and their source datasets, and those datasets' upstream datasets, transitively."""
        instance = self["instances"][native]
        expected = set()
        datasets: set[str] = set()
        run = self["pipeline-runs"].get(instance.get("pipeline_run_id") or "")
        if run is not None:
            expected |= {aip("pipeline-runs", run["run_id"]), aip("pipelines", run["pipeline"])}
            for v in run["input_dataset_versions"]:
                expected.add(version_id(v["dataset_id"], v["version"]))
                datasets.add(v["dataset_id"])
        for feature in instance["feature_ids"]:
            expected.add(aip("features", feature))
            datasets |= set(self["features"][feature]["source_dataset_ids"])
        return expected | {aip("datasets", d) for d in self.upstream_datasets(datasets)}

    def downstream_of_dataset(self, native: str) -> set[str]:
        """Derived datasets, features built on them, their versions, runs reading those,
        the instances those runs and features feed, their models and the A/B tests that
        test those instances (through the runs' cells)."""
        datasets = self.derived_datasets(native)
        expected = {aip("datasets", d) for d in datasets} - {aip("datasets", native)}
        features = {
            f
            for f, record in self["features"].items()
            if datasets & set(record["source_dataset_ids"])
        }
        expected |= {aip("features", f) for f in features}
        runs = {
            r
            for r, record in self["pipeline-runs"].items()
            if any(v["dataset_id"] in datasets for v in record["input_dataset_versions"])
        }
        expected |= {aip("pipeline-runs", r) for r in runs}
        for d in datasets:
            expected |= {version_id(d, v["version"]) for v in self["datasets"][d]["versions"]}
        for i, instance in self["instances"].items():
            if instance.get("pipeline_run_id") in runs or features & set(instance["feature_ids"]):
                expected |= {aip("instances", i), aip("models", instance["model_id"])}
                expected |= self.tests_of_instance(i)
        return expected

    def tests_of_instance(self, native: str) -> set[str]:
        """The A/B tests (and cells) an instance is tested in: its run ran for their cells."""
        run = self["pipeline-runs"].get(self["instances"][native].get("pipeline_run_id") or "")
        found: set[str] = set()
        for cell in (run or {}).get("ab_test_cells") or []:
            test = self["tests"].get(cell["test_id"])
            numbers = {c["cell_number"] for c in test["cells"]} if test else set()
            if cell["cell_number"] in numbers:
                found |= {
                    aip("tests", cell["test_id"]),
                    cell_id(cell["test_id"], cell["cell_number"]),
                }
        return found

    # -- picks ----------------------------------------------------------------------------------

    def tested_instance(self) -> tuple[str, str]:
        """(instance native id, test native id) of an instance tested in an A/B test."""
        for native, _ in sorted(self["instances"].items()):
            for test in sorted(self.tests_of_instance(native)):
                if test.startswith(ref(EntityType.AB_TEST, "")):
                    return native, test[len(ref(EntityType.AB_TEST, "")) :]
        raise LookupError("no instance of this world is tested in an A/B test")

    def rich_instance(self) -> str:
        """An instance with a run that read inputs, and features (a full upstream)."""
        for native, instance in sorted(self["instances"].items()):
            run = self["pipeline-runs"].get(instance.get("pipeline_run_id") or "")
            if run and run["input_dataset_versions"] and instance["feature_ids"]:
                return native
        raise LookupError("no instance with inputs and features")

    def raw_dataset(self) -> str:
        """The dataset with the most datasets derived from it (a long downstream)."""
        return max(sorted(self["datasets"]), key=lambda d: len(self.derived_datasets(d)))
