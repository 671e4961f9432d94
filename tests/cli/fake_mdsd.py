"""A fake mdsd for the CLI tests: a Starlette app answering the ``docs/api.md`` shapes.

The CLI reaches it through ``main(argv, connect=lambda socket: Client(app=app))``, the
same injection seam production uses with the real socket. Three profiles of answers:
``full`` (every documented key), ``empty`` (empty lists) and ``sparse`` (list items with
only the keys every answer carries, null where they may be), so rendering is exercised on
all of them. Every answer has the real API's shape (``test_cli_fake_shapes``).

Special ids: ``MISSING`` answers 404, ``BAD`` 400, ``BOOM`` 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mds.testing import CliResult as Result
from mds.wire import JSON

MODEL = "aip://model/registry/ranking-model"
OTHER_MODEL = "aip://model/registry/search-model"
INSTANCE = "aip://model-instance/registry/ranking-model-v5-20250101"
RUN = "aip://pipeline-run/orchestrator/train-weekly-ranking-20250101"
PIPELINE = "aip://pipeline/orchestrator/weekly-ranking-trainer"
DATASET = "aip://dataset/datasets/playback-events"
DATASET_VERSION = "aip://dataset-version/datasets/playback-events@2025-01-01"
FEATURE = "aip://feature/featurestore/watch-time-7d"
AB_TEST = "aip://ab-test/experiments/12345"
CELL = "aip://ab-test-cell/experiments/12345/2"
ALICE = "aip://user/identity/alice"
TEAM = "aip://team/identity/personalization"

AT = "2025-01-02T03:04:05Z"
#: when a change held in its source (valid time), before mds recorded it (``AT``)
VALID = "2025-01-01T09:00:00Z"

#: a status with only the keys every status carries, for a daemon that holds nothing
BARE_STATUS: JSON = {
    "entities": 0,
    "stubs": 0,
    "deleted": 0,
    "pending": 0,
    "dead_letters": 0,
    "last_tx": 0,
    "last_tx_at": None,
    "sources": {},
    "enrichment": {},
    "started_at": AT,
    "version": "0.1.0",
}

MISSING = "aip://model/registry/missing"
#: a timed-out wait's answer: the status, which says what is still busy
NOT_IDLE = {
    **BARE_STATUS,
    "idle": False,
    "pending": 3,
    "inbox_files": 0,
    "last_tx": 9,
    "enrichment": {"due": 0, "settled": True, "reconcile": {"running": True}},
    "search": {"indexed_tx": 7},
}
BAD = "aip://model/registry/bad"
BOOM = "aip://model/registry/boom"


def _node(entity_id: str, entity_type: str, name: str, depth: int) -> JSON:
    return {"id": entity_id, "entity_type": entity_type, "name": name, "depth": depth}


def _rel(rel_type: str, direction: str, target: str, name: str, kind: str, **extra: Any) -> JSON:
    return {
        "type": rel_type,
        "direction": direction,
        "target": target,
        "inferred": False,
        "target_name": name,
        "target_type": kind,
        **extra,
    }


STATUS: JSON = {
    "entities": 42,
    "stubs": 3,
    "deleted": 1,
    "pending": 0,
    "dead_letters": 2,
    "last_tx": 118,
    "last_tx_at": AT,
    "sources": {
        "registry": {"state": "ok", "requests": 10, "errors": 0},
        "identity": {"state": "backoff", "requests": 4, "errors": 2, "retry_after": 1.5},
    },
    "enrichment": {"passes": 5, "last_pass_at": AT, "inferred": 7},
    "failing_units": [{"unit": MODEL, "failures": 2, "last_error": "HTTP 503"}],
    "started_at": AT,
    "version": "0.1.0",
}

FULL: dict[str, JSON] = {
    "/v1/events": {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [{"index": 2, "reason": "unknown event_type 'x'"}],
    },
    "/v1/status": STATUS,
    "/v1/search": {
        "results": [
            {
                "id": MODEL,
                "entity_type": "Model",
                "name": "ranking-model",
                "score": 12.5,
                "description": "Ranks the home page",
                "owners": [{"id": ALICE, "name": "Alice"}],
                "tags": [{"tag": "team", "value": "personalization"}],
                "highlights": {"name": "<b>ranking</b>-model"},
            },
            {
                "id": INSTANCE,
                "entity_type": "ModelInstance",
                "name": "ranking-model-v5-20250101",
                "score": 3.25,
                "description": None,
                "owners": [],
                "tags": [],
                "highlights": {},
            },
        ],
        "as_of": {"tx": 100, "at": AT},
    },
    "/v1/entity": {
        "id": INSTANCE,
        "entity_type": "ModelInstance",
        "name": "ranking-model-v5-20250101",
        "description": "Weekly ranking model, version 5",
        "owners": [ALICE],
        "owners_resolved": [{"id": ALICE, "name": "Alice"}],
        "tags": [{"tag": "tier", "value": "1"}, {"tag": "experimental", "value": None}],
        "status": "resolved",
        "last_enriched_at": AT,
        "created_at": AT,
        "updated_at": AT,
        "attributes": {"version": "5", "status": "production"},
        "stale": True,
        "relationships": [
            _rel("instance_of", "out", MODEL, "ranking-model", "Model"),
            _rel("produced_by", "out", RUN, "train-weekly-ranking-20250101", "PipelineRun"),
            _rel("uses_feature", "out", FEATURE, "watch-time-7d", "Feature"),
            _rel(
                "tested_in",
                "out",
                AB_TEST,
                "Ranking v5 vs v4",
                "AbTest",
                inferred=True,
                provenance={"rule": "tested_in_via_run", "path": [INSTANCE, RUN, CELL, AB_TEST]},
            ),
            _rel("current_instance", "in", MODEL, "ranking-model", "Model"),
        ],
        "as_of": {"tx": 117, "at": AT},
    },
    "/v1/neighbors": {
        "id": INSTANCE,
        "neighbors": [
            {
                **_node(MODEL, "Model", "ranking-model", 1),
                "type": "instance_of",
                "direction": "out",
            },
            {**_node(RUN, "PipelineRun", "train", 1), "type": "produced_by", "direction": "out"},
            {
                **_node(MODEL, "Model", "ranking-model", 1),
                "type": "current_instance",
                "direction": "in",
            },
        ],
    },
    "/v1/lineage": {
        "root": INSTANCE,
        "direction": "upstream",
        "nodes": [
            _node(INSTANCE, "ModelInstance", "ranking-model-v5-20250101", 0),
            _node(RUN, "PipelineRun", "train-weekly-ranking-20250101", 1),
            _node(FEATURE, "Feature", "watch-time-7d", 1),
            _node(PIPELINE, "Pipeline", "weekly-ranking-trainer", 2),
            _node(DATASET_VERSION, "DatasetVersion", "playback-events@2025-01-01", 2),
            _node(DATASET, "Dataset", "playback-events", 2),
        ],
        "edges": [
            {"source": INSTANCE, "target": RUN, "type": "produced_by"},
            {"source": INSTANCE, "target": FEATURE, "type": "uses_feature"},
            {"source": RUN, "target": PIPELINE, "type": "run_of"},
            {"source": RUN, "target": DATASET_VERSION, "type": "reads"},
            {"source": DATASET_VERSION, "target": DATASET, "type": "version_of"},
            {"source": FEATURE, "target": DATASET, "type": "derived_from"},
        ],
    },
    "/v1/impact": {
        "root": DATASET,
        "total": 3,
        "groups": [
            {
                "entity_type": "Feature",
                "count": 1,
                "entities": [_node(FEATURE, "", "watch-time-7d", 1)],
            },
            {
                "entity_type": "ModelInstance",
                "count": 1,
                "entities": [{"id": INSTANCE, "name": "ranking-model-v5-20250101", "depth": 2}],
            },
            {
                "entity_type": "AbTest",
                "count": 1,
                "entities": [{"id": AB_TEST, "name": "Ranking v5", "depth": 3}],
            },
        ],
        "notify": {
            "owners": [{"id": ALICE, "name": "Alice"}],
            "teams": [{"id": TEAM, "name": "Personalization"}],
        },
    },
    "/v1/usage": {
        "id": MODEL,
        "ab_tests": [
            {
                "id": AB_TEST,
                "name": "Ranking v5 vs v4",
                "status": "ACTIVE",
                "record_status": "resolved",
                "cells": [{"id": CELL, "name": "treatment"}],
                "via": [INSTANCE],
            }
        ],
    },
    "/v1/usage#ab-test": {
        "id": AB_TEST,
        "instances": [
            {
                "id": INSTANCE,
                "name": "ranking-model-v5-20250101",
                "model": {"id": MODEL, "entity_type": "Model", "name": "ranking-model"},
                "cells": [{"id": CELL, "name": "treatment"}],
            }
        ],
        "models": [{"id": MODEL, "name": "ranking-model"}],
    },
    "/v1/path": {
        "from": DATASET,
        "to": MODEL,
        "path": [
            _node(DATASET, "Dataset", "playback-events", 0),
            _node(FEATURE, "Feature", "watch-time-7d", 1),
            _node(INSTANCE, "ModelInstance", "ranking-model-v5-20250101", 2),
            _node(MODEL, "Model", "ranking-model", 3),
        ],
        "edges": [
            {"source": FEATURE, "target": DATASET, "type": "derived_from"},
            {"source": INSTANCE, "target": FEATURE, "type": "uses_feature"},
            {"source": INSTANCE, "target": MODEL, "type": "instance_of"},
        ],
    },
    "/v1/dependencies": {
        "root": INSTANCE,
        "groups": [
            {
                "entity_type": "PipelineRun",
                "count": 1,
                "entities": [{"id": RUN, "name": "train", "depth": 1}],
            },
            {
                "entity_type": "Dataset",
                "count": 1,
                "entities": [{"id": DATASET, "name": "playback", "depth": 2}],
            },
        ],
    },
    "/v1/history": {
        "id": INSTANCE,
        "transactions": [
            {
                "tx": 118,
                "at": AT,
                "cause": {"kind": "event", "event_type": "model_instance_updated"},
                "changes": [
                    {"attribute": "status", "op": "retract", "value": "staged", "valid": VALID},
                    {"attribute": "status", "op": "assert", "value": "production", "valid": VALID},
                ],
            },
            {
                "tx": 90,
                "at": AT,
                "cause": {"kind": "enrichment", "rule": "tested_in_via_run"},
                "changes": [
                    {
                        "attribute": "tested_in",
                        "op": "assert",
                        "value": AB_TEST,
                        "target_name": "Home feed ranking v5",
                    }
                ],
            },
        ],
    },
    "/v1/history#all": {
        "transactions": [
            {
                "tx": 118,
                "at": AT,
                "cause": {"kind": "event"},
                "entities": [INSTANCE, MODEL, RUN, FEATURE],
                "datoms": 6,
                "earliest_valid": "2024-12-30T00:00:00Z",
                "latest_valid": VALID,
            },
            {"tx": 117, "at": AT, "cause": "reconcile", "entities": [DATASET], "datoms": 2},
        ]
    },
    "/v1/dead-letters": {
        "dead_letters": [
            {
                "id": 1,
                "received_at": AT,
                "reason": "unknown event_type 'model_exploded'",
                "raw": '{"event_type": "model_exploded"}',
                "origin": "socket",
            }
        ]
    },
    "/v1/dead-letters/redrive": {"redriven": 2, "rejected": 1, "missing": []},
    "/v1/reconcile": {"started": True, "pass": 4},
    "/v1/wait-idle": {"idle": True, **STATUS},
    "/v1/similar": {
        "id": MODEL,
        "similar": [
            {"id": OTHER_MODEL, "name": "search-model", "score": 0.75, "shared_features": [FEATURE]}
        ],
    },
    "/v1/suggestions": {
        "id": MODEL,
        "suggestions": [
            {
                "feature": {"id": "aip://feature/featurestore/ctr-30d", "name": "ctr-30d"},
                "score": 0.5,
                "because": [OTHER_MODEL],
            }
        ],
    },
    "/v1/quality": {
        "summary": {"entities": 42, "missing_owners": 1, "stale": 0},
        "missing_owners": [{"id": DATASET, "entity_type": "Dataset", "name": "playback-events"}],
        "missing_descriptions": [],
        "stale": [],
        "unresolved_stubs": [{"id": CELL, "entity_type": "AbTestCell", "name": "2"}],
        "dangling_references": [],
        "unused": [],
    },
    "/v1/graphql": {"data": {"entity": {"name": "ranking-model"}}},
}

EMPTY: dict[str, JSON] = {
    "/v1/events": {"accepted": 0, "duplicates": 0, "rejected": []},
    "/v1/status": BARE_STATUS,
    "/v1/search": {"results": []},
    "/v1/entity": {
        "id": MODEL,
        "entity_type": "Model",
        "name": "ranking-model",
        "description": None,
        "owners": [],
        "tags": [],
        "status": "stub",
        "last_enriched_at": None,
        "relationships": [],
        "owners_resolved": [],
        "created_at": None,
        "updated_at": None,
        "attributes": {},
        "stale": False,
    },
    "/v1/neighbors": {"id": MODEL, "neighbors": []},
    "/v1/lineage": {"root": MODEL, "direction": "upstream", "nodes": [], "edges": []},
    "/v1/impact": {"root": MODEL, "total": 0, "groups": [], "notify": {"owners": [], "teams": []}},
    "/v1/usage": {"id": MODEL, "ab_tests": []},
    "/v1/usage#ab-test": {"id": AB_TEST, "instances": [], "models": []},
    "/v1/path": {"from": DATASET, "to": MODEL, "path": [], "edges": []},
    "/v1/dependencies": {"root": MODEL, "groups": []},
    "/v1/history": {"id": MODEL, "transactions": []},
    "/v1/history#all": {"transactions": []},
    "/v1/dead-letters": {"dead_letters": []},
    "/v1/dead-letters/redrive": {"redriven": 0, "rejected": 0, "missing": []},
    "/v1/reconcile": {"started": False, "pass": 3, "reason": "a pass is already running"},
    "/v1/wait-idle": {"idle": True, **BARE_STATUS},
    "/v1/similar": {"id": MODEL, "similar": []},
    "/v1/suggestions": {"id": MODEL, "suggestions": []},
    "/v1/quality": {
        "summary": {},
        "missing_owners": [],
        "missing_descriptions": [],
        "stale": [],
        "unresolved_stubs": [],
        "dangling_references": [],
        "unused": [],
    },
    "/v1/graphql": {"data": None},
}

#: list items carrying only the keys every answer carries (docs/api.md), null where they
#: may be; optional keys absent
SPARSE: dict[str, JSON] = {
    **EMPTY,
    "/v1/events": {"accepted": 1, "duplicates": 0, "rejected": [{"index": 0, "reason": ""}]},
    "/v1/search": {
        "results": [
            {
                "id": MODEL,
                "entity_type": "Model",
                "name": None,
                "score": 1,
                "description": None,
                "owners": [],
                "tags": [],
                "highlights": {},
            }
        ]
    },
    "/v1/entity": {
        **EMPTY["/v1/entity"],
        "tags": [{"tag": "tier", "value": ""}],
        "relationships": [
            {
                "type": "tested_in",
                "direction": "out",
                "target": AB_TEST,
                "inferred": True,
                "target_name": None,
                "target_type": None,
            },
            {
                "type": "instance_of",
                "direction": "in",
                "target": INSTANCE,
                "inferred": False,
                "target_name": None,
                "target_type": None,
            },
        ],
    },
    "/v1/neighbors": {
        "id": MODEL,
        "neighbors": [
            {
                "id": INSTANCE,
                "entity_type": None,
                "name": None,
                "type": "instance_of",
                "direction": "in",
            }
        ],
    },
    "/v1/lineage": {
        "root": MODEL,
        "direction": "upstream",
        "nodes": [
            {"id": MODEL, "entity_type": None, "name": None, "depth": 0},
            {"id": INSTANCE, "entity_type": None, "name": None, "depth": 1},
            {"id": RUN, "entity_type": None, "name": None, "depth": 2},
        ],
        "edges": [{"source": INSTANCE, "target": MODEL, "type": "instance_of"}],
    },
    "/v1/impact": {
        "root": MODEL,
        "total": 1,
        "groups": [
            {
                "entity_type": "Model",
                "count": 1,
                "entities": [{"id": MODEL, "name": None, "depth": 1}],
            }
        ],
        "notify": {"owners": [], "teams": []},
    },
    "/v1/usage": {
        "id": MODEL,
        "ab_tests": [{"id": AB_TEST, "name": None, "status": None, "cells": [], "via": []}],
    },
    "/v1/usage#ab-test": {
        "id": AB_TEST,
        "instances": [
            {"id": INSTANCE, "name": None, "model": {"id": MODEL, "name": None}, "cells": []}
        ],
        "models": [],
    },
    "/v1/path": {
        "from": DATASET,
        "to": MODEL,
        "path": [
            {"id": DATASET, "entity_type": None, "name": None},
            {"id": MODEL, "entity_type": None, "name": None},
        ],
        "edges": [{"source": MODEL, "target": DATASET, "type": "reads"}],
    },
    "/v1/dependencies": {
        "root": MODEL,
        "groups": [{"entity_type": "Dataset", "count": 0, "entities": []}],
    },
    "/v1/history": {
        "id": MODEL,
        "transactions": [
            {
                "tx": 1,
                "at": AT,
                "cause": None,
                "changes": [{"attribute": "name", "op": "assert", "value": None}],
            }
        ],
    },
    "/v1/history#all": {
        "transactions": [{"tx": 1, "at": AT, "cause": None, "entities": [], "datoms": 0}]
    },
    "/v1/dead-letters": {
        "dead_letters": [{"id": 7, "received_at": None, "reason": "", "raw": "", "origin": ""}]
    },
    "/v1/reconcile": {"started": True, "pass": 1},
    "/v1/similar": {
        "id": MODEL,
        "similar": [{"id": OTHER_MODEL, "name": None, "score": 0, "shared_features": []}],
    },
    "/v1/suggestions": {
        "id": MODEL,
        "suggestions": [{"feature": {"id": FEATURE, "name": None}, "score": 0.1, "because": []}],
    },
    "/v1/quality": {
        **EMPTY["/v1/quality"],
        "missing_owners": [{"id": DATASET, "entity_type": None, "name": None}],
    },
}


PROFILES = {"full": FULL, "empty": EMPTY, "sparse": SPARSE}

#: what ``GET /v1/changes`` streams before it ends (as a daemon shutting down ends it)
CHANGES: list[JSON] = [
    {"tx": 119, "at": AT, "cause": {"kind": "event"}, "entities": [INSTANCE, MODEL]},
    {"tx": 120, "at": AT, "cause": "reconcile", "entities": [DATASET]},
    {"tx": 121, "at": AT, "entities": [MODEL, FEATURE]},
]


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    body: bytes


@dataclass
class FakeDaemon:
    documents: dict[str, JSON]
    requests: list[Seen] = field(default_factory=list)
    #: the status of every answer that is not a special case
    status: int = 200
    changes: list[JSON] = field(default_factory=lambda: list(CHANGES))

    def key(self, path: str, params: dict[str, str]) -> str:
        if path == "/v1/usage" and params.get("id", "").startswith("aip://ab-test/"):
            return "/v1/usage#ab-test"
        if path == "/v1/history" and "id" not in params:
            return "/v1/history#all"
        return path

    async def stream(self) -> AsyncIterator[bytes]:
        yield b": keep-alive\n\n"
        for notice in self.changes:
            yield b"event: tx\ndata: " + json.dumps(notice).encode() + b"\n\n"

    async def endpoint(self, request: Request) -> Response:
        params = dict(request.query_params)
        body = await request.body()
        self.requests.append(Seen(request.method, request.url.path, params, body))
        if request.url.path == "/v1/changes":
            return StreamingResponse(self.stream(), media_type="text/event-stream")
        values = set(params.values())
        if MISSING in values:
            return _error(404, "not_found", f"no entity {MISSING}")
        if BAD in values:
            return _error(400, "bad_request", f"bad query: {BAD}")
        if BOOM in values:
            return _error(500, "internal", "the store caught fire")
        if request.url.path == "/v1/wait-idle":
            try:  # as mdsd: a number of seconds
                float(params.get("timeout", "60"))
            except ValueError:
                return _error(400, "bad_request", "timeout must be a number of seconds")
            if params.get("timeout") == "0":
                return JSONResponse(NOT_IDLE, status_code=408)
        if request.url.path == "/v1/graphql" and MISSING.encode() in body:
            error = {"message": f"no entity {MISSING!r} now", "extensions": {"code": "NOT_FOUND"}}
            return JSONResponse({"data": {"entity": None}, "errors": [error]})
        if request.url.path == "/v1/graphql" and b"errors" in body:
            return JSONResponse({"data": None, "errors": [{"message": "Cannot query field 'x'"}]})
        doc = self.documents.get(self.key(request.url.path, params))
        if doc is None:
            return _error(404, "not_found", f"no route {request.url.path}")
        return JSONResponse(doc, status_code=self.status)

    @property
    def app(self) -> Starlette:
        route = Route("/{path:path}", self.endpoint, methods=["GET", "POST"])
        return Starlette(routes=[route])

    def document(self, path: str, params: dict[str, str]) -> JSON:
        return self.documents[self.key(path, params)]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


Run = Callable[..., Result]
