"""Comparing the daemon's whole graph with what the contract says it must be."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime
from typing import Any

from tests.conformance.expect import graph
from tests.conformance.harness import Harness


def shows(h: Harness, ids: list[str]) -> dict[str, dict[str, Any]]:
    """``mds show --json`` of many ids, through the client (one connection, not one
    process each)."""

    async def read() -> dict[str, dict[str, Any]]:
        async with h.daemon.client() as client:
            return {xid: await client.entity(xid) for xid in ids}

    return asyncio.run(read())


def graph_problems(h: Harness, skip: Collection[str] = ()) -> list[str]:
    """Every way the entity pages differ from the platform's payloads normalized by
    contract 1.3, with ``tested_in`` inferred by 1.4. Entities in ``skip`` are not read."""
    g = graph(h.org)
    pages = shows(h, sorted(set(g.entities) - set(skip)))
    problems: list[str] = []
    for xid, got in pages.items():
        want = g.entities[xid]
        for key in ("id", "entity_type", "name", "description", "owners", "tags", "status"):
            if key not in got:
                problems.append(f"{xid}: no {key!r} in show")
        if got["status"] != "resolved":
            problems.append(f"{xid}: status {got['status']}")
        if (got["entity_type"], got["name"]) != (want.entity_type, want.name):
            problems.append(f"{xid}: {got['entity_type']} {got['name']!r} != {want.name!r}")
        if got["description"] != want.description:
            problems.append(f"{xid}: description {got['description']!r}")
        if set(got["owners"]) != want.owners:
            problems.append(f"{xid}: owners {got['owners']} != {sorted(want.owners)}")
        if {(t["tag"], t["value"]) for t in got["tags"]} != want.tags:
            problems.append(f"{xid}: tags {got['tags']} != {sorted(want.tags)}")
        declared = {
            (r["direction"], r["target"])
            for r in got["relationships"]
            if not r["inferred"] and r["target"] not in got["owners"]
        }
        required = {("out", t) for t in want.out} | {("in", s) for s in g.incoming(xid)}
        allowed = required | {(d, t) for t in want.optional for d in ("in", "out")}
        allowed |= {("in", x) for x, e in g.entities.items() if xid in e.owners}
        if not required <= declared <= allowed:
            problems.append(
                f"{xid}: relationships missing {sorted(required - declared)}"
                f" unexpected {sorted(declared - allowed)}"
            )
        if want.updated_at is not None and "updated_at" in got:
            shown = got["updated_at"] and datetime.fromisoformat(got["updated_at"])
            if shown != want.updated_at:
                problems.append(f"{xid}: updated_at {got['updated_at']} != {want.updated_at}")
        inferred = {(r["direction"], r["target"]) for r in got["relationships"] if r["inferred"]}
        implied = {("out", t) for i, t in g.tested_in if i == xid}
        implied |= {("in", i) for i, t in g.tested_in if t == xid}
        if inferred != implied:
            problems.append(f"{xid}: inferred {sorted(inferred)} != {sorted(implied)}")
    return problems
