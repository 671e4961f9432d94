"""GraphQL's ``columnLineage``: a dataset's field walked as ``GET /v1/lineage?field=``
walks it, its fields' datasets as entities of the view."""

from __future__ import annotations

from typing import Any

from mdsd.api.graphql import execute
from mdsd.reads.columns import field_lineage
from store import FactStore
from tests.openlineage.test_column_lineage import (
    ORDERS,
    STAGED,
    TOTALS,
    mart,
    stage,
    write,
)


async def run(store: FactStore, query: str, **variables: Any) -> Any:
    return await execute({"query": query, "variables": variables}, store)


QUERY = """query($id: ID!, $field: String!, $direction: LineageDirection!, $asOf: String) {
  columnLineage(id: $id, field: $field, direction: $direction, asOf: $asOf) {
    root { id field }
    nodes { id field depth datasetId dataset { name entityType } }
    edges { source target scope transformations } truncated } }"""


async def test_column_lineage_is_the_rest_answer_with_datasets_as_entities(
    store: FactStore,
) -> None:
    write(store, stage(), mart())
    answer = await run(store, QUERY, id=TOTALS, field="total", direction="UPSTREAM")
    assert "errors" not in answer, answer["errors"]
    found = answer["data"]["columnLineage"]
    rest = field_lineage(store.db(), TOTALS, "total", "upstream")
    assert found["root"] == {"id": f"{TOTALS}#total", "field": "total"}
    assert {(n["id"], n["depth"]) for n in found["nodes"]} == {
        (n["id"], n["depth"]) for n in rest["nodes"]
    }
    amount = next(n for n in found["nodes"] if n["id"] == f"{ORDERS}#amount")
    assert amount["dataset"] == {"name": "raw.orders", "entityType": "DATASET"}
    assert {(e["source"], e["target"], e["scope"]) for e in found["edges"]} == {
        (e["source"], e["target"], e["scope"]) for e in rest["edges"]
    }
    down = await run(store, QUERY, id=ORDERS, field="amount", direction="DOWNSTREAM")
    assert f"{STAGED}#amount_cents" in {n["id"] for n in down["data"]["columnLineage"]["nodes"]}


async def test_an_unknown_field_or_a_moment_before_it_is_not_found(store: FactStore) -> None:
    write(store, stage())
    unknown = await run(store, QUERY, id=STAGED, field="nope", direction="UPSTREAM")
    (error,) = unknown["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "its fields: order_id, amount_cents, status" in error["message"]
    before = await run(
        store, QUERY, id=STAGED, field="order_id", direction="UPSTREAM", asOf="2025-02-01"
    )
    assert before["errors"][0]["extensions"]["code"] == "NOT_FOUND"
