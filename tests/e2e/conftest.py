"""End-to-end fixtures: a simulator world served over HTTP and a real ``mdsd`` process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mds.testing import DaemonProcess
from simulator.chaos import Chaos
from simulator.runner import SimulatorThread
from simulator.world import World
from tests.e2e.truth import dangling_targets, expected_graph, implied_edges

#: API failures the daemon must ride out: 503s and 429s with Retry-After
HTTP_CHAOS = Chaos(fail_5xx=0.1, rate_limit_429=0.02, retry_after_s=1, seed=3)


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(World.generate(size=400, seed=7), chaos=HTTP_CHAOS) as sim:
        yield sim


@pytest.fixture
def daemon(tmp_path: Path, simulator: SimulatorThread) -> Iterator[DaemonProcess]:
    process = DaemonProcess(tmp_path, simulator.base_url)
    with process:
        yield process


def graph_differences(daemon: DaemonProcess, truth: dict[str, Any]) -> list[str]:
    """Every way the daemon's graph differs from what the world's truth implies: entities,
    declared edges, and the edges contract 1.4 infers from them."""
    expected, deleted = expected_graph(truth)
    dangling = dangling_targets(expected)
    implied = implied_edges(expected)

    async def shows(ids: list[str]) -> dict[str, dict[str, Any] | None]:
        async with daemon.client() as client:
            found: dict[str, dict[str, Any] | None] = {}
            for xid in ids:
                try:
                    found[xid] = await client.entity(xid)
                except Exception:
                    found[xid] = None
            return found

    shown = asyncio.run(shows(sorted(set(expected) | deleted)))
    problems: list[str] = []
    for xid, want in expected.items():
        got = shown[xid]
        if got is None:
            problems.append(f"missing {xid}")
            continue
        if got["status"] != "resolved":
            problems.append(f"{xid}: status {got['status']}")
        if (got["entity_type"], got["name"]) != (want.entity_type, want.name):
            problems.append(
                f"{xid}: {got['entity_type']} {got['name']!r} != {want.entity_type} {want.name!r}"
            )
        if set(got["owners"]) != want.owners:
            problems.append(f"{xid}: owners {sorted(got['owners'])} != {sorted(want.owners)}")
        if {(t["tag"], t["value"]) for t in got["tags"]} != want.tags:
            problems.append(f"{xid}: tags differ")
        out = {
            (r["type"], r["target"])
            for r in got["relationships"]
            if r["direction"] == "out" and not r["inferred"]
        }
        if out != want.out:
            problems.append(
                f"{xid}: extra {sorted(out - want.out)} missing {sorted(want.out - out)}"
            )
        inferred = {
            r["target"] for r in got["relationships"] if r["direction"] == "out" and r["inferred"]
        }
        if inferred != implied.get(xid, set()):
            problems.append(f"{xid}: inferred {sorted(inferred)} != {sorted(implied.get(xid, ()))}")
    for xid in deleted:
        gone = shown.get(xid)
        if gone is not None and gone["status"] != "deleted":
            problems.append(f"{xid} was deleted in the world but is {gone['status']}")
    status = daemon.call("status")
    if status["resolved"] != len(expected):
        problems.append(f"{status['resolved']} resolved entities, the world has {len(expected)}")
    if status["stubs"] > len(dangling):
        problems.append(f"{status['stubs']} stubs, but only {len(dangling)} references dangle")
    if status["deleted"] > len(deleted) + len(dangling):
        problems.append(f"{status['deleted']} deleted, the world deleted {len(deleted)}")
    return problems
