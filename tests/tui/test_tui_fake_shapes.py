"""The TUI's fake daemon answers as the real one does: every route, about every entity of
its graph, now and as of its first transaction, decodes with the shape the real API
declares for it; so do the notices of its change stream."""

from __future__ import annotations

import asyncio
import json

import msgspec
from answer_shapes import decode
from fake_daemon import RUN1, TEST, FakeDaemon

from mds.client import Client
from mds.wire import shapes


def requests(fake: FakeDaemon) -> list[tuple[str, dict[str, str]]]:
    """(path, params) asking every route of ``fake`` about every entity it holds."""
    graph = fake.graph
    asked: list[tuple[str, dict[str, str]]] = [
        ("/v1/status", {}),
        ("/v1/quality", {}),
        ("/v1/dead-letters", {}),
    ]
    for as_of in ({}, {"as_of": "tx:1"}):
        asked += [("/v1/search", {"q": "rank", **as_of}), ("/v1/history", {"limit": "5"})]
        for entity in graph.all(graph.last_tx):
            one = {"id": entity["id"], **as_of}
            asked += [(path, one) for path in ("/v1/entity", "/v1/lineage", "/v1/impact")]
            asked += [("/v1/history", one), ("/v1/path", {"from": RUN1, "to": entity["id"]})]
            for field in entity["attributes"].get("fields", []):  # column lineage
                for direction in ("upstream", "downstream"):
                    asked.append(
                        ("/v1/lineage", {**one, "field": field["name"], "direction": direction})
                    )
            if entity["entity_type"] in ("Model", "ModelInstance", "AbTest"):
                asked += [("/v1/usage", one), ("/v1/similar", one), ("/v1/suggestions", one)]
    return [*asked, ("/v1/owners/search", {"q": "a"}), ("/v1/entity", {"id": TEST + "0"})]


async def test_every_answer_of_the_fake_has_the_real_api_shape() -> None:
    fake = FakeDaemon()
    off = []
    async with Client(app=fake.app) as client:
        for path, params in requests(fake):
            response = await client._http.get(path, params=params)
            try:
                decode(response.json(), path, params, response.status_code)
            except msgspec.ValidationError as exc:
                off.append(f"{path} {params}: {exc}")
    assert not off, "\n".join(off)


async def test_the_fakes_change_notices_have_the_real_api_shape() -> None:
    fake = FakeDaemon()

    async def change() -> None:
        await asyncio.sleep(0.2)
        fake.graph.update("2025-02-01T00:00:00Z", RUN1, name="renamed")

    async with Client(app=fake.app) as client:
        changing = asyncio.ensure_future(change())
        response = await client._http.get("/v1/changes")
        await changing
    notices = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    assert notices
    for notice in notices:
        msgspec.convert(json.loads(notice), shapes.Notice)
