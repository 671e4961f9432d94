"""A refused OpenLineage event's reason names the field the models refused."""

from __future__ import annotations

from typing import Any

import pytest

from mdsd.connectors.openlineage.parse import InvalidLineage, parse_lineage
from tests.openlineage.events import run_event

AT = "2025-03-01T10:00:00Z"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (run_event("START", AT, run="not-a-uuid"), '"run.runId": badly formed'),
        ({**run_event("START", AT), "eventTime": "yesterday"}, '"eventTime": '),
        (run_event("EXPLODED", AT), '"eventType" must be one of START'),
        ({**run_event("START", AT), "inputs": [{"name": "x"}]}, '"inputs[0].namespace"'),
    ],
)
def test_the_reason_names_the_field(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidLineage) as refused:
        parse_lineage(event)
    assert reason in str(refused.value)
