"""Every documented route of the real API answers with the shape it declares.

``mdsd.api.rest.ANSWERS`` names each route's shape (``mds.wire.shapes``), the one the
client decodes with; here each route of docs/api.md is asked for real, the answer taken
raw (``Client.request``, which does not check it) and decoded with that shape, and so are
its refusals with ``shapes.Error``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import tempfile
from typing import Any

import msgspec
import pytest
from answer_shapes import decode, documented
from api_org import Org
from api_world import Truth, aip
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mds.client import ApiError, Client, OffContract
from mds.wire import shapes
from mdsd.api.rest import ANSWERS, create_app

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: where the backups the shape test asks for go, gone when the run ends
SCRATCH = tempfile.mkdtemp(prefix="mds-shapes-")
atexit.register(shutil.rmtree, SCRATCH, True)
_BACKUPS = itertools.count()

#: followed over a real socket in test_api_changes, whose client decodes each notice
STREAMED = {"/v1/changes"}
MISSING = "aip://model/registry/no-such-model"
#: routes that answer about one entity: 404 for one that does not exist
ABOUT_ONE = (
    "/v1/entity", "/v1/neighbors", "/v1/lineage", "/v1/impact", "/v1/dependencies",
    "/v1/usage", "/v1/path", "/v1/history", "/v1/similar", "/v1/suggestions",
)  # fmt: skip


#: an OpenLineage event about one dataset, as a producer posts it
LINEAGE_EVENT = {
    "eventTime": "2025-01-01T00:00:00Z",
    "producer": "https://example.com/producer",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
    "dataset": {"namespace": "pg://db", "name": "public.orders", "facets": {}},
}


def calls(truth: Truth) -> list[tuple[str, str, dict[str, Any], Any]]:
    """(method, path, params, JSON body) asking every route something real."""
    model = aip("models", next(truth.records("models"))[1]["id"])
    instance, test = truth.tested_instance()
    dataset = aip("datasets", truth.raw_dataset())
    rich = aip("instances", truth.rich_instance())
    user = next(truth.records("users"))[1]
    return [
        ("POST", "/v1/events", {}, {"event_type": "no_such_event"}),
        ("POST", "/api/v1/lineage", {}, LINEAGE_EVENT),
        ("GET", "/v1/status", {}, None),
        ("GET", "/v1/search", {"q": model.rsplit("/", 1)[-1]}, None),
        ("GET", "/v1/owners/search", {"q": user["name"]}, None),
        ("GET", "/v1/entity", {"id": aip("instances", instance)}, None),
        ("GET", "/v1/neighbors", {"id": rich}, None),
        ("GET", "/v1/lineage", {"id": rich, "direction": "upstream"}, None),
        ("GET", "/v1/impact", {"id": dataset}, None),
        ("GET", "/v1/dependencies", {"id": rich}, None),
        ("GET", "/v1/usage", {"id": aip("instances", instance)}, None),
        ("GET", "/v1/usage", {"id": aip("tests", test)}, None),
        ("GET", "/v1/path", {"from": dataset, "to": rich}, None),
        ("GET", "/v1/history", {"id": rich}, None),
        ("GET", "/v1/history", {"limit": 5}, None),
        ("GET", "/v1/dead-letters", {"limit": 5}, None),
        ("POST", "/v1/dead-letters/redrive", {}, {"ids": []}),
        ("POST", "/v1/reconcile", {}, None),
        ("POST", "/v1/backup", {}, {"dir": f"{SCRATCH}/backup-{next(_BACKUPS)}"}),
        ("GET", "/v1/wait-idle", {"timeout": "30"}, None),
        ("GET", "/v1/similar", {"id": model}, None),
        ("GET", "/v1/suggestions", {"id": model}, None),
        ("GET", "/v1/quality", {}, None),
        ("POST", "/v1/graphql", {}, {"query": f"{{ entity(id: {json.dumps(model)}) {{ name }} }}"}),
    ]


async def test_every_documented_route_declares_its_shape(org: Org) -> None:
    served = {getattr(r, "path", "") for r in create_app(org.daemon).routes}
    assert set(documented()) == set(ANSWERS) == served


async def test_every_answer_decodes_with_its_declared_shape(org: Org) -> None:
    asked = calls(org.truth)
    assert {path for _, path, _, _ in asked} | STREAMED == set(documented())
    for method, path, params, body in asked:
        doc = await org.client.request(
            method, path, params=params, json_body=body, ok_statuses=(408,)
        )
        decode(doc, path, params)


async def test_every_refusal_decodes_as_an_error(org: Org) -> None:
    """A missing id, a bad parameter, a route that does not exist: each answers
    ``{"error": {"code", "message"}}``."""
    refused = [(path, {"id": MISSING, "from": MISSING, "to": MISSING}) for path in ABOUT_ONE]
    refused += [("/v1/search", {"limit": "0"}), ("/v1/no-such-route", {})]
    for path, params in refused:
        response = await org.client._http.get(path, params=params)
        assert response.status_code in (400, 404), (path, response.text)
        error = msgspec.json.decode(response.content, type=shapes.Error)
        assert error.error.message, path


async def test_an_answer_off_its_shape_is_a_client_error_naming_the_field() -> None:
    async def entity(_: Request) -> JSONResponse:
        return JSONResponse({"id": MISSING, "entity_type": "Model"})

    app = Starlette(routes=[Route("/v1/entity", entity)])
    async with Client(app=app) as client:
        with pytest.raises(OffContract, match=r"GET /v1/entity.*`name`"):
            await client.entity(MISSING)
    assert not issubclass(OffContract, ApiError)
