"""The real ``mdsd`` fed by the ``openlineage-python`` client's own events.

Its HTTP transport needs a TCP listener, so its serialized events (``Serde.to_json``, what
every transport sends) are posted to ``POST /api/v1/lineage`` on the socket through mds's
own client, and written into the inbox as its file transport would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.column_lineage_dataset import (
    ColumnLineageDatasetFacet,
    Fields,
    InputField,
    Transformation,
)
from openlineage.client.generated.ownership_job import Owner, OwnershipJobFacet
from openlineage.client.generated.schema_dataset import (
    SchemaDatasetFacet,
    SchemaDatasetFacetFields,
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from mds.cli import main
from mds.client import ApiError, Client
from mds.testing import DaemonProcess
from mds.wire import shapes
from simulator import SimulatorThread, World

START, END = "2025-05-01T08:00:00+00:00", "2025-05-01T08:20:00+00:00"
OUTPUT = "aip://dataset/openlineage/pg%3A%2F%2Fwarehouse/public.daily_orders"
INPUT = "aip://dataset/openlineage/pg%3A%2F%2Fwarehouse/public.orders"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with (
        SimulatorThread(World.generate(size=20, seed=5)) as simulator,
        DaemonProcess(tmp_path_factory.mktemp("ol"), simulator.base_url) as running,
    ):
        yield running


def events(run_id: str) -> tuple[RunEvent, RunEvent]:
    job = Job(namespace="airflow", name="orders.daily")
    orders = InputDataset(
        namespace="pg://warehouse",
        name="public.orders",
        facets={"schema": SchemaDatasetFacet(fields=[SchemaDatasetFacetFields("id", "INT")])},
    )
    daily = OutputDataset(namespace="pg://warehouse", name="public.daily_orders")
    return tuple(  # type: ignore[return-value]
        RunEvent(
            eventType=state,
            eventTime=at,
            run=Run(runId=run_id),
            job=job,
            inputs=[orders],
            outputs=[daily],
        )
        for state, at in ((RunState.START, START), (RunState.COMPLETE, END))
    )


async def post(client: Client, body: str) -> dict[str, object]:
    return await client.answer(shapes.Ingested, "POST", "/api/v1/lineage", content=body.encode())


def test_a_run_from_the_real_client_is_lineage_through_its_run(daemon: DaemonProcess) -> None:
    run_id = str(generate_new_uuid())
    start, complete = events(run_id)
    run = f"aip://pipeline-run/openlineage/{run_id}"

    async def scenario() -> None:
        async with daemon.client() as client:
            # COMPLETE first through the socket; START later through the inbox
            assert (await post(client, Serde.to_json(complete)))["accepted"] == 1
            redelivered = await post(client, Serde.to_json(complete))
            assert redelivered["duplicates"] == 1
            inbox = daemon.data_dir / "inbox"
            (inbox / ".start.tmp").write_text(Serde.to_json(start) + "\n")
            os.rename(inbox / ".start.tmp", inbox / "start.jsonl")
            with pytest.raises(ApiError) as refused:
                await post(client, '{"eventTime": "2025-05-01T08:00:00Z", "run": {}}')
            assert refused.value.status == 400
            assert '"run.runId"' in refused.value.message
            assert (await client.wait_idle(60))["idle"]

            page = await client.entity(run)
            assert page["attributes"]["status"] == "succeeded"
            assert page["attributes"]["started_at"] == START
            upstream = await client.lineage(OUTPUT, direction="upstream")
            reached = {node["id"] for node in upstream["nodes"]}
            assert {run, INPUT, "aip://pipeline/openlineage/airflow/orders.daily"} <= reached
            downstream = await client.lineage(INPUT, direction="downstream")
            assert OUTPUT in {node["id"] for node in downstream["nodes"]}
            fields = (await client.entity(INPUT))["attributes"]["fields"]
            assert fields == [{"name": "id", "type": "INT", "description": None}]

            between = await client.entity(run, as_of="2025-05-01T08:10:00Z")
            assert between["attributes"]["status"] == "running"
            with pytest.raises(ApiError) as before:
                await client.entity(run, as_of="2025-05-01T07:59:00Z")
            assert before.value.status == 404
            letters = await client.dead_letters()
            assert any("run.runId" in letter["reason"] for letter in letters["dead_letters"])

    asyncio.run(scenario())


def test_column_lineage_from_the_real_client_is_asked_field_by_field(
    daemon: DaemonProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = str(generate_new_uuid())
    lineage = ColumnLineageDatasetFacet(
        fields={
            "order_count": Fields(
                inputFields=[
                    InputField(
                        "pg://warehouse",
                        "public.orders",
                        "id",
                        transformations=[Transformation("DIRECT", "AGGREGATION", "count(id)")],
                    )
                ]
            )
        }
    )
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=END,
        run=Run(runId=run_id),
        job=Job(namespace="airflow", name="orders.counts"),
        inputs=[
            InputDataset(
                namespace="pg://warehouse",
                name="public.orders",
                facets={
                    "schema": SchemaDatasetFacet(fields=[SchemaDatasetFacetFields("id", "INT")])
                },
            )
        ],
        outputs=[
            OutputDataset(
                namespace="pg://warehouse",
                name="public.order_counts",
                facets={"columnLineage": lineage},
            )
        ],
    )
    counts = "aip://dataset/openlineage/pg%3A%2F%2Fwarehouse/public.order_counts"

    async def scenario() -> None:
        async with daemon.client() as client:
            assert (await post(client, Serde.to_json(event)))["accepted"] == 1
            assert (await client.wait_idle(60))["idle"]
            up = await client.lineage(counts, field="order_count")
            assert {n["id"] for n in up["nodes"]} == {f"{counts}#order_count", f"{INPUT}#id"}
            (edge,) = up["edges"]
            assert edge["transformations"][0]["description"] == "count(id)"
            down = await client.lineage(INPUT, field="id", direction="downstream")
            assert f"{counts}#order_count" in {n["id"] for n in down["nodes"]}
            with pytest.raises(ApiError) as unknown:
                await client.lineage(counts, field="total")
            assert unknown.value.status == 404
            assert "its fields: order_count" in unknown.value.message
            with pytest.raises(ApiError) as typed:
                await client.lineage(counts, field="order_count", types=["reads"])
            assert typed.value.status == 400
            with pytest.raises(ApiError) as before:
                await client.lineage(counts, field="order_count", as_of="2025-05-01T08:00:00Z")
            assert before.value.status == 404

    asyncio.run(scenario())
    argv = ["--socket", str(daemon.socket), "lineage", counts, "--field", "order_count"]
    assert main(argv) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == "upstream lineage, 1 node(s):"
    assert shown[1].startswith("[Field] public.order_counts.order_count  ")
    assert shown[2].startswith("└─ DIRECT/AGGREGATION  [Field] public.orders.id (INT)  ")


def test_owners_resolve_through_identity_and_runs_are_found_by_their_job(
    daemon: DaemonProcess,
) -> None:
    run_id = str(generate_new_uuid())
    start, _ = events(run_id)
    start.job.facets = {
        "ownership": OwnershipJobFacet(
            owners=[Owner(name="user:alice@example.com"), Owner(name="alice@other.org")]
        )
    }
    job = "aip://pipeline/openlineage/airflow/orders.daily"
    run = f"aip://pipeline-run/openlineage/{run_id}"

    async def scenario() -> None:
        async with daemon.client() as client:
            assert (await post(client, Serde.to_json(start)))["accepted"] == 1
            assert (await client.wait_idle(60))["idle"]
            owners = set((await client.entity(job))["owners"])
            stranger = "aip://user/identity/alice@other.org"
            # alice@example.com is identity's alice; alice@other.org someone else, whom
            # identity does not know: listed apart as unresolved by impact
            assert owners == {"aip://user/identity/alice", stranger}
            assert (await client.entity(stranger))["status"] != "resolved"
            page = await client.entity(run)
            assert page["name"] == f"orders.daily {run_id.replace('-', '')[-8:]}"
            for _ in range(100):  # the search index commits on its own interval
                found = [r["id"] for r in (await client.search("orders.daily"))["results"]]
                by_id = [r["id"] for r in (await client.search(run_id))["results"]]
                if run in found and run in by_id:
                    break
                await asyncio.sleep(0.1)
            assert found[0] == job and run in found, found
            assert run in by_id

    asyncio.run(scenario())
