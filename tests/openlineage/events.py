"""OpenLineage events for the tests, built as a producer sends them."""

from __future__ import annotations

from typing import Any

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
RUN = "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
PARENT = "0b8bb3c5-55c6-4b8a-9cba-2b6c2b4f7f10"


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": "https://example.com/producer", "_schemaURL": "https://x/f.json", **fields}


def dataset(namespace: str, name: str, **facets: dict[str, Any]) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def run_event(
    event_type: str,
    at: str,
    *,
    run: str = RUN,
    job: str = "etl.orders",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": at,
        "producer": "https://example.com/producer",
        "schemaURL": SPEC,
        "run": {"runId": run, "facets": run_facets or {}},
        "job": {"namespace": "airflow", "name": job, "facets": {}},
        "inputs": inputs if inputs is not None else [dataset("pg://db", "public.orders")],
        "outputs": outputs if outputs is not None else [dataset("pg://db", "public.daily")],
    }
