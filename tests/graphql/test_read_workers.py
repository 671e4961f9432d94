"""Reads in worker processes: the same answers as in-process, read-your-writes, the same
limits, and a worker that dies or hangs mid-read costs a retry, never a hung request."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from graphql_org import MODEL, PLAYBACK, Graph, build_org, entity

from mds.wire.model import EntityType
from mdsd.api.graphql import execute_on_reader
from mdsd.api.rest import create_app
from mdsd.config import Config, DaemonConfig
from mdsd.daemon import Daemon
from mdsd.reads import queries
from mdsd.reads.cost import ReadLimits, ReadRunner, TooCostly
from mdsd.reads.views import view
from mdsd.reads.workers import ProcessReader

LINEAGE = (PLAYBACK, "downstream", queries.LINEAGE_DEPTH, None)
GRAPHQL = {
    "query": f'{{ model(id: "{MODEL}") {{ name lastHydratedAt instances {{ nodes {{ name }} }} }} }}'
}


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon reading in its default worker processes, holding the GraphQL org."""
    d = Daemon(Config(daemon=DaemonConfig(data_dir=str(tmp_path / "data"))))
    await d.start()
    try:
        build_org(Graph(d))
        await workers(d).started()
        yield d
    finally:
        await d.stop()


def workers(daemon: Daemon) -> ProcessReader:
    assert isinstance(daemon.reader, ProcessReader)
    return daemon.reader


async def test_workers_answer_as_the_read_threads_do(daemon: Daemon) -> None:
    reader, threads = workers(daemon), ReadRunner(daemon.reader.limits)
    await daemon.journal.record_success([("registry", MODEL)])  # read from the worker too
    try:
        db = daemon.store.db()
        for read, args in ((queries.show, (MODEL, None)), (queries.lineage, LINEAGE)):
            assert await reader.query(db, read, *args) == await threads.query(db, read, *args)
        store, services = daemon.store, daemon.services
        in_worker = await execute_on_reader(reader, GRAPHQL, store, services, None)
        on_thread = await execute_on_reader(threads, GRAPHQL, store, services, None)
        assert json.loads(in_worker) == json.loads(on_thread)
        model = json.loads(in_worker)["data"]["model"]
        assert model["instances"]["nodes"] and model["lastHydratedAt"]
    finally:
        threads.close()


async def test_workers_read_at_the_valid_time_and_known_at_asked(daemon: Daemon) -> None:
    """A view's valid time crosses to the worker with its basis; so does a NotFound's
    ``known_from`` (where the entity's known history begins)."""
    reader, threads = workers(daemon), ReadRunner(daemon.reader.limits)
    try:
        late = view(daemon.store, "2000-01-01")
        with pytest.raises(queries.NotFound) as raised:
            await reader.query(late, queries.show, MODEL, None)
        assert raised.value.known_from is not None
        begins = view(daemon.store, raised.value.known_from)
        shown = json.loads(await reader.query(begins, queries.show, MODEL, None))
        assert shown["as_of"]["valid_time"] == raised.value.known_from
        assert shown == json.loads(await threads.query(begins, queries.show, MODEL, None))
        query = {"query": f'{{ model(id: "{MODEL}") {{ name }} }}'}
        for moments in (("2000-01-01", None), (None, "tx:0")):
            store, services = daemon.store, daemon.services
            answer = json.loads(await execute_on_reader(reader, query, store, services, *moments))
            assert answer["data"] == {"model": None}
    finally:
        threads.close()


async def test_a_read_sees_everything_committed_before_it_arrived(daemon: Daemon) -> None:
    graph, reader = Graph(daemon), workers(daemon)
    for n in range(20):
        graph.write(entity(EntityType.DATASET, f"fresh-{n}", f"fresh {n}"))
        xid = f"aip://dataset/datasets/fresh-{n}"
        shown = json.loads(await reader.query(daemon.store.db(), queries.show, xid, None))
        assert shown["name"] == f"fresh {n}"
        query = {"query": f'{{ dataset(id: "{xid}") {{ name }} }}'}
        answer = await execute_on_reader(reader, query, daemon.store, daemon.services, None)
        assert json.loads(answer)["data"]["dataset"]["name"] == f"fresh {n}"


async def test_the_limits_hold_in_the_workers(daemon: Daemon) -> None:
    reader = workers(daemon)
    reader.limits = ReadLimits(visits=3)
    with pytest.raises(TooCostly, match="more than 3 records"):
        await reader.query(daemon.store.db(), queries.lineage, *LINEAGE)
    answer = await execute_on_reader(reader, GRAPHQL, daemon.store, daemon.services, None)
    (error,) = json.loads(answer)["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    reader.limits = ReadLimits(seconds=1e-6)
    answer = await execute_on_reader(reader, GRAPHQL, daemon.store, daemon.services, None)
    (error,) = json.loads(answer)["errors"]
    assert "deadline" in error["message"]
    with pytest.raises(queries.NotFound, match=r"no entity .* now"):
        await reader.query(daemon.store.db(), queries.show, "aip://dataset/datasets/nope", None)


async def test_a_worker_killed_mid_read_costs_a_retry(daemon: Daemon) -> None:
    reader = workers(daemon)
    first = reader.processes()[0]["pid"]
    assert isinstance(first, int)
    os.kill(first, signal.SIGSTOP)  # the read goes to it and waits there
    read = asyncio.create_task(reader.query(daemon.store.db(), queries.lineage, *LINEAGE))
    await asyncio.sleep(0.3)
    assert not read.done()
    os.kill(first, signal.SIGKILL)
    async with asyncio.timeout(10):
        assert json.loads(await read)["nodes"]
    # the next read starts the dead worker's successor
    await asyncio.gather(*(reader.query(daemon.store.db(), queries.show, MODEL, None),) * 2)
    with pytest.raises(ChildProcessError):
        os.waitpid(first, os.WNOHANG)  # reaped


async def test_a_hung_worker_is_killed_and_its_read_answered_elsewhere(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = workers(daemon)
    reader.limits = ReadLimits(seconds=0.2)
    monkeypatch.setattr("mdsd.reads.workers.DEADLINE_GRACE_SECONDS", 0.2)
    for slot in reader._slots:
        slot._channel._ping_timeout = 0.3  # type: ignore[union-attr]
    hung = reader.processes()[0]["pid"]
    assert isinstance(hung, int)
    os.kill(hung, signal.SIGSTOP)
    async with asyncio.timeout(10):
        assert json.loads(await reader.query(daemon.store.db(), queries.lineage, *LINEAGE))
    async with asyncio.timeout(5):
        while reader.processes()[0]["pid"] == hung:
            await asyncio.sleep(0.05)
    with pytest.raises(ChildProcessError):
        os.waitpid(hung, os.WNOHANG)  # killed and reaped, not left stopped


async def test_a_read_no_worker_can_answer_is_a_503(daemon: Daemon) -> None:
    pids = [p["pid"] for p in workers(daemon).processes()]
    for pid in pids:
        assert isinstance(pid, int)
        os.kill(pid, signal.SIGSTOP)
    transport = httpx.ASGITransport(app=create_app(daemon.api))
    async with httpx.AsyncClient(transport=transport, base_url="http://mds") as http:
        answer = asyncio.create_task(http.get("/v1/entity", params={"id": MODEL}))
        for pid in pids:
            await asyncio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            response = await answer
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
