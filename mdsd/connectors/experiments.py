"""The Experimentation Platform: A/B tests and their cells (contract 1.2, ``experiments``).

A test's cells come with the test's payload, so a cell is a part of its test's unit.
"""

from __future__ import annotations

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors.base import timing
from mdsd.connectors.ids import ab_test_of_cell, cell_native
from mdsd.connectors.payload import Payload, entity
from mdsd.connectors.rest import Collection, Part, RestConnector, lifecycle


def ab_test(p: Payload) -> list[NormalizedEntity]:
    test_id = p.id("test_id", "id")
    cells = p.objects("cells")
    test = entity(
        p,
        EntityType.AB_TEST,
        test_id,
        attributes={"status": p.text("status"), "cell_count": len(cells)},
    )
    return [test, *(_cell(test.id, test_id, cell) for cell in cells)]


def _cell(unit_id: str, test_id: str, cell: Payload) -> NormalizedEntity:
    return entity(
        cell,
        EntityType.AB_TEST_CELL,
        cell_native(test_id, cell.id("cell_number")),
        attributes={"cell_number": cell.scalar("cell_number")},
        relationships={Rel.CELL_OF: [unit_id]},
        parent=unit_id,
    )


class ExperimentsConnector(RestConnector):
    source = "experiments"
    events = lifecycle("ab_test", EntityType.AB_TEST, "test_id")
    collections = (
        Collection(
            "tests",
            EntityType.AB_TEST,
            ab_test,
            part=Part(EntityType.AB_TEST_CELL, ab_test_of_cell),
            id_field="test_id",
        ),
    )
    #: a cell belongs to its test under its number for good (the payload dates neither)
    timings = {EntityType.AB_TEST_CELL: timing(fixed=(Rel.CELL_OF, "parent", "cell_number"))}
