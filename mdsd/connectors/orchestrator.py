"""Pipeline Orchestration: pipelines and their runs (contract 1.2, ``orchestrator``)."""

from __future__ import annotations

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors.base import timing
from mdsd.connectors.ids import cell_native, dataset_version_native
from mdsd.connectors.payload import Payload, entity, newest, refs
from mdsd.connectors.rest import Collection, RestConnector, lifecycle


def pipeline(p: Payload) -> list[NormalizedEntity]:
    return [
        entity(
            p,
            EntityType.PIPELINE,
            p.id("id"),
            attributes={"schedule": p.text("schedule"), "node_count": len(p.objects("nodes"))},
            relationships={Rel.OUTPUTS: refs(EntityType.DATASET, p.ids("output_dataset_ids"))},
        )
    ]


def run(p: Payload) -> list[NormalizedEntity]:
    attempts = p.objects("attempts")
    last = newest(attempts, _attempt_number)
    started, ended = p.timestamp("started_at"), p.timestamp("ended_at")
    return [
        entity(
            p,
            EntityType.PIPELINE_RUN,
            p.id("run_id", "id"),
            attributes={
                "status": p.text("status"),
                "started_at": p.text("started_at"),
                "ended_at": p.text("ended_at"),
                "attempts": len(attempts),
                "last_attempt_status": last.text("status") if last else None,
            },
            relationships={
                Rel.RUN_OF: refs(EntityType.PIPELINE, [p.opt_id("pipeline")]),
                Rel.READS: _dataset_versions(p, "input_dataset_versions"),
                Rel.WRITES: _dataset_versions(p, "output_dataset_versions"),
                Rel.RAN_FOR: refs(
                    EntityType.AB_TEST_CELL,
                    [
                        cell_native(c.id("test_id"), c.id("cell_number"))
                        for c in p.objects("ab_test_cells")
                    ],
                ),
            },
            # the contract's run has no timestamps of its own: it is created when it
            # starts, and its payload last changed (as far as it says) when it ended
            began_at=started,
            changed_at=ended or started,
        )
    ]


def _dataset_versions(p: Payload, field: str) -> list[str]:
    return refs(
        EntityType.DATASET_VERSION,
        [dataset_version_native(v.id("dataset_id"), v.id("version")) for v in p.objects(field)],
    )


def _attempt_number(attempt: Payload) -> float:
    number = attempt.scalar("attempt")
    return number if isinstance(number, int | float) and not isinstance(number, bool) else -1


class OrchestratorConnector(RestConnector):
    source = "orchestrator"
    events = {
        **lifecycle("pipeline", EntityType.PIPELINE, "pipeline_id"),
        **lifecycle(
            "pipeline_run", EntityType.PIPELINE_RUN, "run_id", ("started", "completed", "failed")
        ),
    }
    collections = (
        Collection("pipelines", EntityType.PIPELINE, pipeline),
        Collection("pipeline-runs", EntityType.PIPELINE_RUN, run, id_field="run_id"),
    )
    #: a pipeline's outputs and a run's pipeline, inputs and outputs are fixed when they
    #: are created (contract 4); a run's cell assignments change after it ended, and
    #: nothing in its payload dates them
    timings = {
        EntityType.PIPELINE: timing(fixed=(Rel.OUTPUTS,)),
        EntityType.PIPELINE_RUN: timing(
            fixed=(Rel.RUN_OF, Rel.READS, Rel.WRITES, "started_at"), undated=(Rel.RAN_FOR,)
        ),
    }
