"""The fake mdsd answers as the real one does: every document of every profile, and every
special answer, decodes with the shape the real API declares for its route."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from answer_shapes import decode
from fake_mdsd import AB_TEST, BAD, BOOM, MISSING, MODEL, PROFILES, FakeDaemon

from mds.client import Client

POSTED = {"/v1/events", "/v1/dead-letters/redrive", "/v1/reconcile", "/v1/graphql"}


def requests(fake: FakeDaemon) -> list[tuple[str, str, dict[str, Any], bytes]]:
    """(method, path, params, body) reaching every document and special case of ``fake``."""
    asked = []
    for key in fake.documents:
        path, _, variant = key.partition("#")
        params = {} if variant == "all" else {"id": AB_TEST if variant else MODEL}
        asked.append(("POST" if path in POSTED else "GET", path, params, b"{}"))
    for special in (MISSING, BAD, BOOM):
        asked.append(("GET", "/v1/entity", {"id": special}, b""))
    asked.append(("GET", "/v1/wait-idle", {"timeout": "0"}, b""))
    for query in (f'{{ entity(id: "{MISSING}") {{ name }} }}', "{ errors }"):
        asked.append(("POST", "/v1/graphql", {}, json.dumps({"query": query}).encode()))
    return asked


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_every_answer_of_the_fake_has_the_real_api_shape(profile: str) -> None:
    fake = FakeDaemon(PROFILES[profile])
    off = []
    async with Client(app=fake.app) as client:
        for method, path, params, body in requests(fake):
            response = await client._http.request(method, path, params=params, content=body)
            try:
                decode(response.json(), path, params, response.status_code)
            except msgspec.ValidationError as exc:
                off.append(f"{method} {path} {params}: {exc}")
    assert not off, "\n".join(off)
