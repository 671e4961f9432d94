"""Column lineage: the ``columnLineage`` facet kept on its output dataset, and walked
field by field upstream (its inputs) and downstream (through the runs reading a dataset)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from mdsd import facts as F
from mdsd.connectors.openlineage.mapping import observe
from mdsd.connectors.openlineage.parse import InvalidLineage, parse_lineage
from mdsd.hydration.writer import Writer
from mdsd.reads.columns import field_lineage
from mdsd.reads.queries import BadQuery, NotFound
from store import Db, FactStore
from tests.openlineage.events import dataset, facet, run_event

ORDERS = "aip://dataset/openlineage/pg/raw.orders"
STAGED = "aip://dataset/openlineage/pg/stg.orders"
TOTALS = "aip://dataset/openlineage/pg/mart.totals"
STAGE_RUN = "6a3a3b7e-1111-4c1e-9b59-1d2e3f4a5b6c"
MART_RUN = "6a3a3b7e-2222-4c1e-9b59-1d2e3f4a5b6c"
T1, T2, T3 = "2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z", "2025-03-02T11:00:00Z"


def source(name: str, field: str, *steps: tuple[str, str | None]) -> dict[str, Any]:
    """An input field of facet 1-2-0, with its transformations (type, subtype)."""
    return {
        "namespace": "pg",
        "name": name,
        "field": field,
        "transformations": [{"type": t, "subtype": s, "masking": False} for t, s in steps],
    }


def schema(*names: str) -> dict[str, Any]:
    return facet(fields=[{"name": n, "type": "INTEGER"} for n in names])


def stage(at: str = T1) -> dict[str, Any]:
    """raw.orders -> stg.orders: ``order_id`` renames ``id``, ``amount_cents`` derives
    from ``amount`` (facet 1-0-x: one transformation for the whole field)."""
    lineage = facet(
        fields={
            "order_id": {
                "inputFields": [{"namespace": "pg", "name": "raw.orders", "field": "id"}],
                "transformationType": "IDENTITY",
                "transformationDescription": "id AS order_id",
            },
            "amount_cents": {
                "inputFields": [{"namespace": "pg", "name": "raw.orders", "field": "amount"}],
                "transformationType": "TRANSFORMATION",
            },
            "status": {
                "inputFields": [{"namespace": "pg", "name": "raw.orders", "field": "status"}]
            },
        }
    )
    return run_event(
        "COMPLETE",
        at,
        run=STAGE_RUN,
        job="stage",
        inputs=[dataset("pg", "raw.orders", schema=schema("id", "amount", "status"))],
        outputs=[
            dataset(
                "pg",
                "stg.orders",
                schema=schema("order_id", "amount_cents", "status"),
                columnLineage=lineage,
            )
        ],
    )


def mart(at: str = T2, total_from: str = "amount_cents") -> dict[str, Any]:
    """stg.orders -> mart.totals (facet 1-2-0): ``total`` sums ``total_from``, the whole
    table is filtered on ``status``."""
    lineage = facet(
        fields={
            "total": {"inputFields": [source("stg.orders", total_from, ("DIRECT", "AGGREGATION"))]},
            "orders": {
                "inputFields": [source("stg.orders", "order_id", ("DIRECT", "AGGREGATION"))]
            },
        },
        dataset=[source("stg.orders", "status", ("INDIRECT", "FILTER"))],
    )
    return run_event(
        "COMPLETE",
        at,
        run=MART_RUN,
        job="mart",
        inputs=[dataset("pg", "stg.orders")],
        outputs=[dataset("pg", "mart.totals", columnLineage=lineage)],
    )


def write(store: FactStore, *events: dict[str, Any]) -> None:
    Writer(store).observe([observe(parse_lineage(e), {}) for e in events], {"origin": "test"})


def edges(answer: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(derived, source, scope, the first transformation's type/subtype) of each edge."""
    found = set()
    for edge in answer["edges"]:
        first = (edge["transformations"] or [{}])[0]
        step = "/".join(p for p in (first.get("type"), first.get("subtype")) if p)
        found.add((edge["source"], edge["target"], edge["scope"], step))
    return found


def reached(answer: dict[str, Any]) -> dict[str, int]:
    return {node["id"]: node["depth"] for node in answer["nodes"]}


def test_both_facet_versions_are_kept_on_the_output_dataset(store: FactStore) -> None:
    write(store, stage(), mart())
    db = store.db()
    staged = db.get(db.entid(STAGED), F.attr_key("column_lineage"))
    assert staged["fields"]["order_id"] == [
        {
            "dataset": ORDERS,
            "field": "id",
            "transformations": [
                {
                    "type": "IDENTITY",
                    "subtype": None,
                    "description": "id AS order_id",
                    "masking": None,
                }
            ],
        }
    ]
    assert staged["fields"]["status"][0]["transformations"] == []
    totals = db.get(db.entid(TOTALS), F.attr_key("column_lineage"))
    assert totals["dataset"][0]["field"] == "status"
    assert totals["dataset"][0]["transformations"][0]["subtype"] == "FILTER"
    assert "attr/facet.columnLineage" not in db.entity(db.entid(TOTALS))


def test_a_malformed_facet_is_refused_with_the_path_of_its_field() -> None:
    event = mart()
    del event["outputs"][0]["facets"]["columnLineage"]["fields"]["total"]["inputFields"][0]["field"]
    with pytest.raises(InvalidLineage, match=r"columnLineage\.fields\.total\.inputFields\[0\]"):
        parse_lineage(event)
    event = mart()
    event["outputs"][0]["facets"]["columnLineage"]["fields"]["total"] = ["amount"]
    with pytest.raises(InvalidLineage, match=r"columnLineage\.fields\.total"):
        parse_lineage(event)


def test_upstream_follows_each_field_to_its_sources_with_their_transformations(
    store: FactStore,
) -> None:
    write(store, stage(), mart())
    answer = field_lineage(store.db(), TOTALS, "total")
    assert answer["root"] == f"{TOTALS}#total"
    assert reached(answer) == {
        f"{TOTALS}#total": 0,
        f"{STAGED}#amount_cents": 1,
        f"{STAGED}#status": 1,  # the whole table is filtered on it
        f"{ORDERS}#amount": 2,
        f"{ORDERS}#status": 2,
    }
    assert edges(answer) == {
        (f"{TOTALS}#total", f"{STAGED}#amount_cents", "field", "DIRECT/AGGREGATION"),
        (f"{TOTALS}#total", f"{STAGED}#status", "dataset", "INDIRECT/FILTER"),
        (f"{STAGED}#amount_cents", f"{ORDERS}#amount", "field", "TRANSFORMATION"),
        (f"{STAGED}#status", f"{ORDERS}#status", "field", ""),
    }
    node = next(n for n in answer["nodes"] if n["id"] == f"{ORDERS}#amount")
    assert node | {"depth": 0} == {
        "id": f"{ORDERS}#amount",
        "entity_type": "Field",
        "name": "amount",
        "depth": 0,
        "status": "resolved",
        "dataset": ORDERS,
        "dataset_name": "raw.orders",
        "field": "amount",
        "type": "INTEGER",
        "description": None,
    }
    shallow = field_lineage(store.db(), TOTALS, "total", depth=1)
    assert set(reached(shallow)) == {
        f"{TOTALS}#total",
        f"{STAGED}#amount_cents",
        f"{STAGED}#status",
    }


def test_downstream_finds_the_fields_a_field_feeds_through_the_runs_reading_it(
    store: FactStore,
) -> None:
    write(store, stage(), mart())
    answer = field_lineage(store.db(), ORDERS, "amount", "downstream")
    assert reached(answer) == {
        f"{ORDERS}#amount": 0,
        f"{STAGED}#amount_cents": 1,
        f"{TOTALS}#total": 2,
    }
    # edges keep their own direction: the derived field points at its input
    assert (f"{TOTALS}#total", f"{STAGED}#amount_cents", "field", "DIRECT/AGGREGATION") in edges(
        answer
    )
    # a filter column feeds every field of the dataset it filters
    filtered = field_lineage(store.db(), STAGED, "status", "downstream")
    assert set(reached(filtered)) == {f"{STAGED}#status", f"{TOTALS}#total", f"{TOTALS}#orders"}
    assert {e[2] for e in edges(filtered)} == {"dataset"}


def test_an_unknown_field_names_the_fields_there_are(store: FactStore) -> None:
    write(store, stage(), mart())
    with pytest.raises(NotFound, match="its fields: order_id, amount_cents, status"):
        field_lineage(store.db(), STAGED, "amount")
    # mart.totals has no schema facet: its fields are those its lineage derives
    with pytest.raises(NotFound, match="its fields: orders, total"):
        field_lineage(store.db(), TOTALS, "amount")
    with pytest.raises(NotFound, match="no entity"):
        field_lineage(store.db(), "aip://dataset/openlineage/pg/nowhere", "id")
    with pytest.raises(BadQuery, match="direction"):
        field_lineage(store.db(), TOTALS, "total", "sideways")


def test_an_input_without_a_schema_has_the_fields_its_consumers_name(store: FactStore) -> None:
    write(store, mart())  # stg.orders is only an input here, with no schema facet
    answer = field_lineage(store.db(), STAGED, "order_id", "downstream")
    assert set(reached(answer)) == {f"{STAGED}#order_id", f"{TOTALS}#orders"}
    with pytest.raises(NotFound, match="its fields: order_id, amount_cents, status"):
        field_lineage(store.db(), STAGED, "nope", "downstream")


def test_column_lineage_is_read_as_of_a_moment(store: FactStore) -> None:
    write(store, stage(), mart(T2), mart(T3, total_from="order_id"))

    def at(moment: str) -> Db:
        return store.db().valid_at(datetime.fromisoformat(moment))

    now = field_lineage(store.db(), TOTALS, "total", depth=1)
    assert f"{STAGED}#order_id" in reached(now)
    then = field_lineage(at("2025-03-01T12:00:00+00:00"), TOTALS, "total", depth=1)
    assert f"{STAGED}#amount_cents" in reached(then)
    assert f"{STAGED}#order_id" not in reached(then)
    before = field_lineage(at("2025-03-01T10:30:00+00:00"), ORDERS, "amount", "downstream")
    assert set(reached(before)) == {f"{ORDERS}#amount", f"{STAGED}#amount_cents"}
    with pytest.raises(NotFound):
        field_lineage(at("2025-03-01T10:30:00+00:00"), TOTALS, "total")


def test_a_mapped_namespace_names_the_source_entity_as_the_input(store: FactStore) -> None:
    event = stage()
    Writer(store).observe([observe(parse_lineage(event), {"pg-raw": "datasets"})], {})
    event["outputs"][0]["facets"]["columnLineage"]["fields"]["order_id"]["inputFields"][0][
        "namespace"
    ] = "warehouse"
    observed = observe(parse_lineage(event), {"warehouse": "datasets"})
    staged = next(e for e in observed.entities if e.id == STAGED)
    inputs = staged.attributes["column_lineage"]["fields"]["order_id"]
    assert inputs[0]["dataset"] == "aip://dataset/datasets/raw.orders"


def test_an_input_only_the_facet_names_is_read_by_the_run(store: FactStore) -> None:
    event = stage()
    event["inputs"] = []  # as dbt-ol reports a model selecting from a seed
    write(store, event)
    db = store.db()
    run = db.entid(f"aip://pipeline-run/openlineage/{STAGE_RUN}")
    assert [db.xid(t) for t in db.get(run, F.rel_attr("reads"))] == [ORDERS]
    answer = field_lineage(db, ORDERS, "amount", "downstream")
    assert set(reached(answer)) == {f"{ORDERS}#amount", f"{STAGED}#amount_cents"}


def test_an_output_in_a_mapped_namespace_has_the_lineage_its_run_kept(store: FactStore) -> None:
    mapped = {"pg": "datasets"}  # the warehouse is the datasets source's
    first, later = stage(T1), stage(T3)
    later["outputs"][0]["facets"]["columnLineage"]["fields"]["order_id"]["inputFields"][0][
        "field"
    ] = "order_no"
    later["run"]["runId"] = MART_RUN
    Writer(store).observe([observe(parse_lineage(first), mapped)], {})
    known_then = store.last_tx
    Writer(store).observe([observe(parse_lineage(later), mapped)], {})
    staged, orders = "aip://dataset/datasets/stg.orders", "aip://dataset/datasets/raw.orders"
    db = store.db()
    assert db.get(db.entid(staged), F.STATUS) == F.STATUS_STUB  # described by its source
    answer = field_lineage(db, staged, "order_id")
    assert set(reached(answer)) == {f"{staged}#order_id", f"{orders}#order_no"}
    then = field_lineage(store.db().as_of(known_then), staged, "order_id")
    assert set(reached(then)) == {f"{staged}#order_id", f"{orders}#id"}
    down = field_lineage(db, orders, "order_no", "downstream")
    assert set(reached(down)) == {f"{orders}#order_no", f"{staged}#order_id"}
