from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sim_contract import event_kind

from simulator import Chaos, SimulatorThread, World, run_simulator
from simulator.__main__ import parse_args
from simulator.emitter import CallbackSink
from simulator.records import SOURCE_COLLECTIONS, Event


async def test_run_simulator_serves_on_a_free_port_and_emits(world: World) -> None:
    received: list[Event] = []
    sink = CallbackSink(received.extend)
    async with run_simulator(world, port=0, sink=sink) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:") and not sim.base_url.endswith(":0")
        assert set(sim.source_urls) == set(SOURCE_COLLECTIONS)
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            team_id = next(iter(world.truth()["collections"]["teams"]))
            response = await client.get(f"/api/v1/teams/{team_id}")
            assert response.status_code == 200 and response.json()["id"] == team_id
            total = len(list(world.initial_events()))
            for _ in range(100):
                if len(received) >= total:
                    break
                await asyncio.sleep(0.02)
            assert len(received) == total
            events = await sim.mutate(3)
            assert [event_kind(e) for e in received[total:]] == [event_kind(e) for e in events]
            stats = (await client.get("/_stats")).json()
            assert stats["events"]["emitted"] == len(received)


async def test_run_simulator_reports_a_port_in_use(world: World) -> None:
    async with run_simulator(world, port=0) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            async with run_simulator(world, port=port):
                pass


def test_simulator_thread_for_sync_callers(world: World) -> None:
    with (
        SimulatorThread(world, chaos=Chaos()) as sim,
        httpx.Client(base_url=sim.base_url) as client,
    ):
        assert client.get("/api/v1/models", params={"limit": 2}).status_code == 200
        events = sim.mutate(4)
        assert len(events) >= 4
        assert client.get("/_truth").json() == sim.truth()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.base_url}/_stats")


def test_cli_options() -> None:
    args = parse_args(["--size", "500", "--emit-socket", "/tmp/x.sock", "--drop", "0.1"])
    assert (args.size, args.seed, args.port, args.rate, args.drop) == (500, 1, 8700, 2.0, 0.1)
    with pytest.raises(SystemExit):
        parse_args(["--emit-socket", "a", "--emit-inbox", "b"])
    with pytest.raises(SystemExit):
        parse_args(["--fail-5xx", "2"])


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--emit-socket", "--emit-inbox", "--rate", "--fail-5xx", "--reorder"):
        assert option in usage


def test_cli_serves_and_feeds_an_inbox_until_terminated(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    command = [sys.executable, "-m", "simulator", "--port", "0", "--size", "200"]
    command += ["--emit-inbox", str(inbox), "--rate", "50"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # "[sources.registry]"
        base_url = process.stdout.readline().split('"')[1]
        assert first.startswith("[sources.") and base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base_url}/api/v1/teams").status_code == 200
        deadline = time.monotonic() + 10
        while len(list(inbox.glob("*.jsonl"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(inbox.glob("*.jsonl"))) >= 2, "initial events and the living stream"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
