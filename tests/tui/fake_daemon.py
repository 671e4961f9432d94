"""TEST FIXTURE: a tiny in-memory stand-in for mdsd's HTTP API (docs/api.md shapes).

It exists so the TUI can be tested before (and independently of) the real daemon: a few
models, instances, runs, datasets, features, an A/B test and people, written in three
transactions so ``as_of`` has something to show. It is deliberately naive (linear scans,
no indexes) and is not a reference implementation of anything; its answers have the real
API's shapes (``test_tui_fake_shapes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mds.wire import JSON
from mds.wire.columns import DATASET_SCOPE, FIELD_SCOPE, FIELD_TYPE, field_id
from mds.wire.model import KIND_OF, lineage_steps

TYPE_OF_KIND = {kind: str(et) for et, kind in KIND_OF.items()}


def uid(kind: str, source: str, native: str) -> str:
    return f"aip://{kind}/{source}/{native}"


ALICE = uid("user", "identity", "alice")
BOB = uid("user", "identity", "bob")
CAROL = uid("user", "identity", "carol")
PERSO = uid("team", "identity", "personalization")
PLAYBACK = uid("dataset", "datasets", "playback-events")
PLAYBACK_V1 = uid("dataset-version", "datasets", "playback-events@2024-11-30")
PLAYBACK_V2 = uid("dataset-version", "datasets", "playback-events@2025-01-01")
PROFILES = uid("dataset", "datasets", "user-profiles")
SESSIONS = uid("dataset", "datasets", "sessions")
WATCH = uid("feature", "featurestore", "watch-time-7d")
TENURE = uid("feature", "featurestore", "user-tenure")
LEGACY = uid("feature", "featurestore", "legacy-ctr")
PIPE = uid("pipeline", "orchestrator", "weekly-ranking-trainer")
RUN1 = uid("pipeline-run", "orchestrator", "train-weekly-ranking-20241201")
RUN2 = uid("pipeline-run", "orchestrator", "train-weekly-ranking-20250101")
RANKING = uid("model", "registry", "ranking-model")
V4 = uid("model-instance", "registry", "ranking-model-v4-20241201")
V5 = uid("model-instance", "registry", "ranking-model-v5-20250101")
CHURN = uid("model", "registry", "churn-model")
CHURN1 = uid("model-instance", "registry", "churn-model-v1-20241201")
TEST = uid("ab-test", "experiments", "12345")
CELL1 = uid("ab-test-cell", "experiments", "12345/1")
CELL2 = uid("ab-test-cell", "experiments", "12345/2")

# what an OpenLineage job said: a failed run of an Airflow task, inside its DAG's run,
# reading orders and writing a daily table whose revenue column sums their amounts
OL_NS = "pg%3A%2F%2Fwarehouse"
ORDERS = uid("dataset", "openlineage", f"{OL_NS}/public.orders")
DAILY = uid("dataset", "openlineage", f"{OL_NS}/public.daily_orders")
OL_JOB = uid("pipeline", "openlineage", "airflow/orders.daily")
OL_DAG = uid("pipeline", "openlineage", "airflow/orders")
OL_RUN = uid("pipeline-run", "openlineage", "3f5e83fa-3480-44ff-99c5-ff943904e5e8")
OL_PARENT = uid("pipeline-run", "openlineage", "0b8bb3c5-55c6-4b8a-9cba-2b6c2b4f7f10")
OL_ERROR = "ZeroDivisionError: division by zero in revenue_per_order"

NAMES = {ALICE: "Alice Andersen", BOB: "Bob Brown", CAROL: "Carol Chen", PERSO: "Personalization"}


def doc(
    entity_id: str,
    name: str,
    *,
    description: str | None = None,
    owners: tuple[str, ...] = (),
    tags: tuple[tuple[str, str], ...] = (),
    attributes: JSON | None = None,
    rels: tuple[tuple[str, str], ...] = (),
    inferred: tuple[tuple[str, str, list[str]], ...] = (),
    status: str = "resolved",
) -> JSON:
    kind = entity_id.split("/")[2]
    return {
        "id": entity_id,
        "entity_type": TYPE_OF_KIND[kind],
        "name": name,
        "description": description,
        "owners": list(owners),
        "tags": [{"tag": k, "value": v} for k, v in tags],
        "status": status,
        "attributes": dict(attributes or {}),
        "rels": [{"type": t, "target": target, "inferred": False} for t, target in rels]
        + [
            {
                "type": t,
                "target": target,
                "inferred": True,
                "provenance": {"rule": "tested_in", "path": path},
            }
            for t, target, path in inferred
        ],
    }


@dataclass
class Tx:
    tx: int
    at: str
    cause: JSON
    entities: list[str]
    changes: dict[str, list[JSON]] = field(default_factory=dict)


class FakeGraph:
    """Versioned entity documents: each entity is a list of (tx, document) versions."""

    def __init__(self) -> None:
        self.versions: dict[str, list[tuple[int, JSON]]] = {}
        self.txs: list[Tx] = []
        self.changed = asyncio.Event()
        self._streamed_tx = 0
        self.requests: list[str] = []
        seed(self)

    # -- writing --------------------------------------------------------------------------

    def commit(self, at: str, docs: list[JSON], cause: JSON | None = None) -> Tx:
        tx = Tx(len(self.txs) + 1, at, cause or {"event_type": "test"}, [])
        for new in docs:
            old = self.get(new["id"], len(self.txs))
            new = {**new, "created_at": (old or {}).get("created_at", at), "updated_at": at}
            new["last_enriched_at"] = at
            self.versions.setdefault(new["id"], []).append((tx.tx, new))
            tx.entities.append(new["id"])
            tx.changes[new["id"]] = diff(old, new)
        self.txs.append(tx)
        self.changed.set()
        return tx

    def update(self, at: str, entity_id: str, **fields: Any) -> Tx:
        current = copy.deepcopy(self.get(entity_id, self.last_tx))
        assert current is not None
        current.update(fields)
        return self.commit(at, [current])

    # -- reading --------------------------------------------------------------------------

    @property
    def last_tx(self) -> int:
        return len(self.txs)

    def get(self, entity_id: str, tx: int) -> JSON | None:
        found = None
        for version_tx, version in self.versions.get(entity_id, []):
            if version_tx <= tx:
                found = version
        return found

    def all(self, tx: int) -> list[JSON]:
        return [d for d in (self.get(i, tx) for i in self.versions) if d is not None]

    def edges(self, tx: int) -> list[tuple[str, str, JSON]]:
        """(source, target, rel) for every relationship (owners included) as of ``tx``."""
        out = []
        for entity in self.all(tx):
            for rel in entity["rels"]:
                out.append((entity["id"], rel["target"], rel))
            for owner in entity["owners"]:
                out.append((entity["id"], owner, {"type": "owned_by", "inferred": False}))
        return out

    def name(self, entity_id: str, tx: int) -> str:
        entity = self.get(entity_id, tx)
        return entity["name"] if entity else entity_id.rsplit("/", 1)[-1]

    def resolve(self, as_of: str | None, known_at: str | None = None) -> int:
        """The tx a view means: the last one at or before both moments. In this graph a
        change is valid from the moment its transaction records it, so the valid time
        ``as_of`` and the system time ``known_at`` cut it at the same transactions."""
        return min(self._resolve(as_of), self._resolve(known_at))

    def _resolve(self, as_of: str | None) -> int:
        if as_of is None:
            return self.last_tx
        if as_of.startswith("tx:"):
            return min(int(as_of[3:]), self.last_tx)
        match = re.fullmatch(r"(\d+)([smhdw])", as_of)
        if match:
            unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match[2]]
            moment = datetime.now(UTC) - timedelta(seconds=int(match[1]) * unit)
        else:
            try:
                moment = datetime.combine(date.fromisoformat(as_of), datetime.min.time(), UTC)
            except ValueError:
                moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        at_or_before = [t.tx for t in self.txs if parse(t.at) <= moment]
        return max(at_or_before, default=0)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def diff(old: JSON | None, new: JSON) -> list[JSON]:
    def facts(d: JSON | None) -> set[tuple[str, str]]:
        if d is None:
            return set()
        out = {(k, json.dumps(d.get(k))) for k in ("name", "description", "status") if d.get(k)}
        out |= {(f"attributes.{k}", json.dumps(v)) for k, v in d["attributes"].items()}
        out |= {(r["type"], json.dumps(r["target"])) for r in d["rels"]}
        out |= {("owned_by", json.dumps(o)) for o in d["owners"]}
        return out

    before, after = facts(old), facts(new)
    return [
        {"attribute": a, "op": "retract", "value": json.loads(v)} for a, v in sorted(before - after)
    ] + [
        {"attribute": a, "op": "assert", "value": json.loads(v)} for a, v in sorted(after - before)
    ]


def seed(g: FakeGraph) -> None:
    g.commit(
        "2024-12-01T09:00:00Z",
        [
            doc(ALICE, "Alice Andersen", rels=(("member_of", PERSO),)),
            doc(BOB, "Bob Brown", rels=(("member_of", PERSO),)),
            doc(CAROL, "Carol Chen"),
            doc(PERSO, "Personalization"),
            doc(PLAYBACK, "playback-events", description="Raw playback events.", owners=(BOB,)),
            doc(
                PLAYBACK_V1,
                "playback-events@2024-11-30",
                attributes={
                    "version": "2024-11-30",
                    "row_count": 1000,
                    "created_at": "2024-11-30T00:00:00Z",
                },
                rels=(("version_of", PLAYBACK),),
            ),
            doc(PROFILES, "user-profiles", owners=(BOB,)),
            doc(
                SESSIONS,
                "sessions",
                description="Sessionised playback.",
                owners=(BOB,),
                rels=(("derived_from", PLAYBACK),),
            ),
            doc(
                WATCH,
                "watch-time-7d",
                description="Seven-day watch time.",
                owners=(ALICE,),
                rels=(("derived_from", PLAYBACK),),
            ),
            doc(TENURE, "user-tenure", owners=(BOB,), rels=(("derived_from", PROFILES),)),
            doc(LEGACY, "legacy-ctr", status="stub"),
            doc(
                PIPE,
                "weekly-ranking-trainer",
                description="Trains the ranking model weekly.",
                owners=(ALICE,),
                attributes={"schedule": "@weekly"},
            ),
            doc(
                RUN1,
                "train-weekly-ranking-20241201",
                attributes={
                    "status": "succeeded",
                    "attempts": 1,
                    "started_at": "2024-12-01T08:00:00Z",
                },
                rels=(("run_of", PIPE), ("reads", PLAYBACK_V1)),
            ),
            doc(
                RANKING,
                "ranking-model",
                description="Ranks the home feed.",
                owners=(ALICE,),
                tags=(("team", "personalization"), ("env", "production")),
                rels=(("current_instance", V4),),
            ),
            doc(
                V4,
                "ranking-model-v4-20241201",
                owners=(ALICE,),
                attributes={
                    "version": 4,
                    "status": "production",
                    "deployed_at": "2024-12-02T00:00:00Z",
                },
                rels=(("instance_of", RANKING), ("produced_by", RUN1), ("uses_feature", WATCH)),
            ),
            doc(CHURN, "churn-model", owners=(BOB,), tags=(("env", "staging"),)),
            doc(
                CHURN1,
                "churn-model-v1-20241201",
                owners=(BOB,),
                attributes={"version": 1, "status": "staged"},
                rels=(("instance_of", CHURN), ("uses_feature", TENURE), ("uses_feature", LEGACY)),
            ),
            *openlineage(),
        ],
        {"event_type": "model_created", "source": "registry"},
    )
    g.commit(
        "2025-01-01T09:00:00Z",
        [
            doc(
                PLAYBACK_V2,
                "playback-events@2025-01-01",
                attributes={
                    "version": "2025-01-01",
                    "row_count": 1500,
                    "created_at": "2025-01-01T00:00:00Z",
                },
                rels=(("version_of", PLAYBACK),),
            ),
            doc(
                TEST,
                "Ranking v5 vs v4",
                description="Does v5 beat v4?",
                owners=(CAROL,),
                attributes={"status": "ACTIVE", "cell_count": 2},
            ),
            doc(CELL1, "control", attributes={"cell_number": 1}, rels=(("cell_of", TEST),)),
            doc(CELL2, "treatment", attributes={"cell_number": 2}, rels=(("cell_of", TEST),)),
            doc(
                RUN1,
                "train-weekly-ranking-20241201",
                attributes={
                    "status": "succeeded",
                    "attempts": 1,
                    "started_at": "2024-12-01T08:00:00Z",
                },
                rels=(("run_of", PIPE), ("reads", PLAYBACK_V1), ("ran_for", CELL1)),
            ),
            doc(
                RUN2,
                "train-weekly-ranking-20250101",
                attributes={
                    "status": "succeeded",
                    "attempts": 2,
                    "started_at": "2025-01-01T08:00:00Z",
                },
                rels=(("run_of", PIPE), ("reads", PLAYBACK_V2), ("ran_for", CELL2)),
            ),
            doc(
                V4,
                "ranking-model-v4-20241201",
                owners=(ALICE,),
                attributes={
                    "version": 4,
                    "status": "production",
                    "deployed_at": "2024-12-02T00:00:00Z",
                },
                rels=(("instance_of", RANKING), ("produced_by", RUN1), ("uses_feature", WATCH)),
                inferred=(("tested_in", TEST, [V4, RUN1, CELL1, TEST]),),
            ),
            doc(
                V5,
                "ranking-model-v5-20250101",
                owners=(ALICE,),
                attributes={"version": 5, "status": "staged"},
                rels=(
                    ("instance_of", RANKING),
                    ("produced_by", RUN2),
                    ("uses_feature", WATCH),
                    ("uses_feature", TENURE),
                ),
                inferred=(("tested_in", TEST, [V5, RUN2, CELL2, TEST]),),
            ),
        ],
        {"event_type": "ab_test_created", "source": "experiments"},
    )
    g.commit(
        "2025-01-10T09:00:00Z",
        [
            doc(
                RANKING,
                "ranking-model",
                description="Ranks the home feed (v5 rollout).",
                owners=(ALICE,),
                tags=(("team", "personalization"), ("env", "production")),
                rels=(("current_instance", V5),),
            ),
            doc(
                V5,
                "ranking-model-v5-20250101",
                owners=(ALICE,),
                attributes={
                    "version": 5,
                    "status": "production",
                    "deployed_at": "2025-01-10T00:00:00Z",
                },
                rels=(
                    ("instance_of", RANKING),
                    ("produced_by", RUN2),
                    ("uses_feature", WATCH),
                    ("uses_feature", TENURE),
                ),
                inferred=(("tested_in", TEST, [V5, RUN2, CELL2, TEST]),),
            ),
        ],
        {"event_type": "model_updated", "source": "registry"},
    )


def _field(name: str, kind: str, description: str | None = None) -> JSON:
    return {"name": name, "type": kind, "description": description}


def _from(dataset: str, field: str, kind: str, subtype: str, how: str) -> JSON:
    step = {"type": kind, "subtype": subtype, "description": how, "masking": False}
    return {"dataset": dataset, "field": field, "transformations": [step]}


def openlineage() -> list[JSON]:
    """Entities as mdsd maps an OpenLineage run: datasets with their schema and column
    lineage, the job, the failed run and its parent."""
    daily_lineage = {
        "fields": {
            "day": [_from(ORDERS, "ordered_at", "DIRECT", "TRANSFORMATION", "date(ordered_at)")],
            "revenue": [_from(ORDERS, "amount", "DIRECT", "AGGREGATION", "sum(amount)")],
        },
        "dataset": [_from(ORDERS, "status", "INDIRECT", "FILTER", "status = 'paid'")],
    }
    return [
        doc(
            ORDERS,
            "public.orders",
            attributes={
                "namespace": "pg://warehouse",
                "fields": [
                    _field("id", "INT", "The order's id."),
                    _field("amount", "DECIMAL(10,2)", "What the customer paid."),
                    _field("status", "TEXT"),
                    _field("ordered_at", "TIMESTAMP"),
                ],
            },
        ),
        doc(
            DAILY,
            "public.daily_orders",
            attributes={
                "namespace": "pg://warehouse",
                "fields": [
                    _field("day", "DATE"),
                    _field("revenue", "DECIMAL(12,2)", "Paid revenue of the day."),
                ],
                "column_lineage": daily_lineage,
            },
        ),
        doc(OL_DAG, "orders", attributes={"namespace": "airflow"}),
        doc(OL_JOB, "orders.daily", attributes={"namespace": "airflow"}),
        doc(
            OL_PARENT,
            "0b8bb3c5-55c6-4b8a-9cba-2b6c2b4f7f10",
            attributes={"status": "running", "started_at": "2024-12-01T05:59:00Z"},
            rels=(("run_of", OL_DAG),),
        ),
        doc(
            OL_RUN,
            "3f5e83fa-3480-44ff-99c5-ff943904e5e8",
            attributes={
                "status": "failed",
                "started_at": "2024-12-01T06:00:00Z",
                "ended_at": "2024-12-01T06:12:30Z",
                "error_message": OL_ERROR,
                "error_language": "python",
            },
            rels=(
                ("run_of", OL_JOB),
                ("reads", ORDERS),
                ("writes", DAILY),
                ("parent_run", OL_PARENT),
            ),
        ),
    ]


# -- the HTTP API ----------------------------------------------------------------------------


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class FakeDaemon:
    """The graph plus a Starlette app serving it; ``self.app`` goes to ``Client(app=...)``."""

    def __init__(self) -> None:
        self.graph = FakeGraph()
        #: set, the daemon answers as ``mdsd replica`` does: this lag, no dead letters
        self.replica: JSON | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/status", self.status),
                Route("/v1/search", self.search),
                Route("/v1/owners/search", self.owners_search),
                Route("/v1/entity", self.entity),
                Route("/v1/lineage", self.lineage),
                Route("/v1/impact", self.impact),
                Route("/v1/usage", self.usage),
                Route("/v1/path", self.path),
                Route("/v1/history", self.history),
                Route("/v1/similar", self.similar),
                Route("/v1/suggestions", self.suggestions),
                Route("/v1/quality", self.quality),
                Route("/v1/changes", self.changes),
                Route("/v1/dead-letters", self.dead_letters),
                Route("/v1/dead-letters/redrive", self.redrive, methods=["POST"]),
            ]
        )
        #: events intake refused: one a source can take again once fixed, one it never will
        self.letters: list[JSON] = [
            {
                "id": 1,
                "received_at": "2025-01-10T10:00:00Z",
                "reason": "hydration failed: registry answered 503",
                "raw": '{"event_type": "model_updated", "model_id": "ranking-model"}',
                "origin": "socket",
                "redriven_at": None,
            },
            {
                "id": 2,
                "received_at": "2025-01-10T11:00:00Z",
                "reason": 'missing required field "model_id"',
                "raw": '{"event_type": "model_updated"}',
                "origin": "inbox",
                "redriven_at": None,
            },
        ]

    def _tx(self, request: Request) -> int:
        self.graph.requests.append(f"{request.url.path}?{request.url.query}")
        params = request.query_params
        return self.graph.resolve(params.get("as_of"), params.get("known_at"))

    def _as_of(self, request: Request, tx: int) -> JSON:
        params = request.query_params
        if "as_of" not in params and "known_at" not in params:
            return {}
        at = self.graph.txs[tx - 1].at if tx else None
        as_of = params.get("as_of")
        valid = None if as_of is None else (at if as_of.startswith("tx:") else as_of)
        return {"as_of": {"tx": tx, "at": at, "valid_time": valid}}

    def _ref(self, entity_id: str, tx: int) -> JSON:
        entity = self.graph.get(entity_id, tx)
        return {
            "id": entity_id,
            "entity_type": entity["entity_type"] if entity else None,
            "name": self.graph.name(entity_id, tx),
        }

    async def status(self, request: Request) -> Response:
        g = self.graph
        every = g.all(g.last_tx)
        return JSONResponse(
            {
                "entities": len(every),
                "stubs": sum(e["status"] == "stub" for e in every),
                "deleted": 0,
                "pending": 0,
                "dead_letters": sum(1 for d in self.letters if d["redriven_at"] is None),
                "kinds": dict(Counter(str(e["entity_type"]) for e in every)),
                "last_tx": g.last_tx,
                "last_tx_at": g.txs[-1].at,
                "sources": {
                    "registry": {"state": "closed", "requests": 12, "errors": 0},
                    "experiments": {"state": "open", "requests": 9, "errors": 9},
                },
                "enrichment": {},
                "started_at": g.txs[0].at,
                "version": "fake",
                "replica": self.replica,
            }
        )

    async def dead_letters(self, request: Request) -> Response:
        if self.replica is not None:  # as mdsd replica answers
            error = {"code": "read_only_replica", "message": "the primary's"}
            return JSONResponse({"error": error}, status_code=409)
        return JSONResponse({"dead_letters": self.letters})

    async def redrive(self, request: Request) -> Response:
        """Letter 1 gets in (its source is back); letter 2 is refused again."""
        body = await request.json()
        waiting = {d["id"]: d for d in self.letters if d["redriven_at"] is None}
        asked = list(waiting) if body.get("all") else list(body.get("ids") or [])
        redriven = rejected = 0
        for number in asked:
            if number == 1 and number in waiting:
                waiting[number]["redriven_at"] = self.graph.txs[-1].at
                redriven += 1
            elif number in waiting:
                rejected += 1
        missing = [n for n in asked if n not in waiting]
        return JSONResponse({"redriven": redriven, "rejected": rejected, "missing": missing})

    def _matches(self, entity: JSON, query: str, tx: int) -> tuple[float, str] | None:
        words = []
        for token in query.split():
            key, _, value = token.partition(":")
            if value and key == "type":
                if value.lower() not in (
                    entity["entity_type"].lower(),
                    KIND_OF.get(entity["entity_type"], ""),
                ):  # type: ignore[call-overload]
                    return None
            elif value and key == "owner":
                owners = [(o, self.graph.name(o, tx)) for o in entity["owners"]]
                if not any(value.lower() in (o + " " + n).lower() for o, n in owners):
                    return None
            elif value and key == "tag":
                tag, _, tag_value = value.partition("=")
                if not any(
                    t["tag"] == tag and (not tag_value or t["value"] == tag_value)
                    for t in entity["tags"]
                ):
                    return None
            else:
                words.append(token.lower())
        name = entity["name"]
        score = 1.0 + 1.0 / len(name)  # shorter names first, like a real ranking would
        for word in words:
            if word in name.lower():
                score += 3.0 if name.lower().startswith(word) else 2.0
            elif word in (entity["description"] or "").lower():
                score += 1.0
            else:
                return None
        marked = html.escape(name)
        for word in words:
            marked = re.sub(
                f"({re.escape(html.escape(word))})", r"<b>\1</b>", marked, flags=re.IGNORECASE
            )
        return score, marked

    def _result(self, entity: JSON, score: float, marked: str, tx: int) -> JSON:
        return {
            "id": entity["id"],
            "entity_type": entity["entity_type"],
            "name": entity["name"],
            "score": score,
            "description": entity["description"],
            "owners": [{"id": o, "name": self.graph.name(o, tx)} for o in entity["owners"]],
            "tags": entity["tags"],
            "highlights": {"name": marked},
        }

    async def search(self, request: Request) -> Response:
        tx = self._tx(request)
        query = request.query_params.get("q", "")
        limit = int(request.query_params.get("limit", 20))
        found = []
        for entity in self.graph.all(tx):
            if entity["entity_type"] in ("User", "Team"):
                continue
            match = self._matches(entity, query, tx)
            if match:
                found.append(self._result(entity, match[0], match[1], tx))
        found.sort(key=lambda r: (-r["score"], r["name"].lower()))
        return JSONResponse({"results": found[:limit], **self._as_of(request, tx)})

    async def owners_search(self, request: Request) -> Response:
        tx = self.graph.last_tx
        query = request.query_params.get("q", "").lower()
        found = [
            self._result(e, 1.0, html.escape(e["name"]), tx)
            for e in self.graph.all(tx)
            if e["entity_type"] in ("User", "Team") and query in e["name"].lower()
        ]
        return JSONResponse({"results": found})

    async def entity(self, request: Request) -> Response:
        tx = self._tx(request)
        entity_id = request.query_params["id"]
        entity = self.graph.get(entity_id, tx)
        if entity is None:
            later = self.graph.get(entity_id, self.graph.last_tx)
            if later is not None and "as_of" in request.query_params:
                begins = later["created_at"]
                message = f"{entity_id} did not exist then: its known history begins at {begins}"
                body = {"code": "not_found", "message": message, "known_from": begins}
                return JSONResponse({"error": body}, status_code=404)
            return error(404, "not_found", f"{entity_id} does not exist")
        relationships = []
        for source, target, rel in self.graph.edges(tx):
            if source == entity_id:
                other, direction = target, "out"
            elif target == entity_id:
                other, direction = source, "in"
            else:
                continue
            item = {
                "type": rel["type"],
                "direction": direction,
                "target": other,
                "inferred": rel["inferred"],
                "target_name": self.graph.name(other, tx),
                "target_type": (self.graph.get(other, tx) or {}).get("entity_type"),
            }
            if rel.get("provenance"):
                item["provenance"] = rel["provenance"]
            relationships.append(item)
        body = {
            key: entity[key]
            for key in (
                "id",
                "entity_type",
                "name",
                "description",
                "owners",
                "tags",
                "status",
                "attributes",
                "created_at",
                "updated_at",
                "last_enriched_at",
            )
        }
        body["owners_resolved"] = [
            {"id": o, "name": self.graph.name(o, tx)} for o in entity["owners"]
        ]
        body["stale"] = False
        body["relationships"] = relationships
        # the registry's UI, as a [sources.registry] ui_url would give it; no other source's
        source = entity_id.split("/")[3]
        native = entity_id.split("/", 4)[-1]
        body["source"] = source
        body["source_url"] = f"https://registry.example/{native}" if source == "registry" else None
        return JSONResponse({**body, **self._as_of(request, tx)})

    def _walk(
        self, root: str, direction: str, depth: int, tx: int
    ) -> tuple[list[JSON], list[JSON]]:
        steps = lineage_steps(direction)  # type: ignore[arg-type]
        edges = self.graph.edges(tx)
        seen = {root: 0}
        frontier = [root]
        out_edges: list[JSON] = []
        for level in range(1, depth + 1):
            following = []
            for node in frontier:
                for source, target, rel in edges:
                    for rel_type, orientation in steps:
                        if rel["type"] != rel_type:
                            continue
                        if orientation == "out" and source == node:
                            nxt = target
                        elif orientation == "in" and target == node:
                            nxt = source
                        else:
                            continue
                        out_edges.append(
                            {
                                "source": source,
                                "target": target,
                                "type": rel_type,
                                "inferred": bool(rel.get("inferred")),
                            }
                        )
                        if nxt not in seen:
                            seen[nxt] = level
                            following.append(nxt)
            frontier = following
        nodes = [{**self._ref(i, tx), "depth": d} for i, d in seen.items()]
        return nodes, out_edges

    async def lineage(self, request: Request) -> Response:
        tx = self._tx(request)
        root = request.query_params["id"]
        if self.graph.get(root, tx) is None:
            return error(404, "not_found", f"{root} does not exist")
        direction = request.query_params.get("direction", "upstream")
        depth = int(request.query_params.get("depth", 6))
        field = request.query_params.get("field")
        if field is not None:
            return self._field_lineage(request, tx, root, field, direction, depth)
        nodes, edges = self._walk(root, direction, depth, tx)
        return JSONResponse(
            {
                "root": root,
                "direction": direction,
                "nodes": nodes,
                "edges": edges,
                **self._as_of(request, tx),
            }
        )

    def _fields(self, dataset: str, tx: int) -> list[str]:
        attributes = (self.graph.get(dataset, tx) or {}).get("attributes", {})
        named = [f["name"] for f in attributes.get("fields", [])]
        named += list((attributes.get("column_lineage") or {}).get("fields", {}))
        return list(dict.fromkeys(named))

    def _column_links(self, tx: int) -> list[JSON]:
        """Every edge of every dataset's column lineage (naively, from all of them)."""
        links = []
        for entity in self.graph.all(tx):
            lineage = entity["attributes"].get("column_lineage") or {}
            for name, entries in lineage.get("fields", {}).items():
                links += [(entity["id"], name, e, FIELD_SCOPE) for e in entries]
            for entry in lineage.get("dataset", []):
                fields = self._fields(entity["id"], tx)
                links += [(entity["id"], name, entry, DATASET_SCOPE) for name in fields]
        return [
            {
                "source": field_id(dataset, name),
                "target": field_id(entry["dataset"], entry["field"]),
                "type": "derived_from",
                "inferred": False,
                "scope": scope,
                "transformations": entry["transformations"],
            }
            for dataset, name, entry, scope in links
        ]

    def _field_node(self, node: str, depth: int, tx: int) -> JSON:
        dataset, _, name = node.partition("#")
        entity = self.graph.get(dataset, tx) or {"attributes": {}}
        described = {f["name"]: f for f in entity["attributes"].get("fields", [])}.get(name, {})
        return {
            "id": node,
            "entity_type": FIELD_TYPE,
            "name": name,
            "depth": depth,
            "status": entity.get("status"),
            "dataset": dataset,
            "dataset_name": entity.get("name"),
            "field": name,
            "type": described.get("type"),
            "description": described.get("description"),
        }

    def _field_lineage(
        self, request: Request, tx: int, dataset: str, field: str, direction: str, depth: int
    ) -> Response:
        links = self._column_links(tx)
        known = self._fields(dataset, tx) + [
            e["target"].partition("#")[2] for e in links if e["target"].startswith(dataset + "#")
        ]
        if field not in known:
            fields = ", ".join(dict.fromkeys(known))
            return error(
                404, "not_found", f"no field {field!r} in {dataset!r}; its fields: {fields}"
            )
        root = field_id(dataset, field)
        near, far = ("source", "target") if direction == "upstream" else ("target", "source")
        seen, frontier, walked = {root: 0}, [root], []
        for level in range(1, depth + 1):
            following = []
            for link in links:
                if link[near] in frontier:
                    walked.append(link)
                    if link[far] not in seen:
                        seen[link[far]] = level
                        following.append(link[far])
            frontier = following
        return JSONResponse(
            {
                "root": root,
                "direction": direction,
                "nodes": [self._field_node(n, d, tx) for n, d in seen.items()],
                "edges": walked,
                **self._as_of(request, tx),
            }
        )

    async def impact(self, request: Request) -> Response:
        tx = self._tx(request)
        root = request.query_params["id"]
        nodes, _ = self._walk(root, "downstream", 10, tx)
        nodes = [n for n in nodes if n["id"] != root]
        groups: dict[str, list[JSON]] = {}
        for node in nodes:
            groups.setdefault(str(node["entity_type"]), []).append(
                {"id": node["id"], "name": node["name"], "depth": node["depth"]}
            )
        owners = sorted(
            {o for n in nodes for o in (self.graph.get(n["id"], tx) or {"owners": []})["owners"]}
        )
        teams = sorted(
            {
                r["target"]
                for o in owners
                for r in (self.graph.get(o, tx) or {"rels": []})["rels"]
                if r["type"] == "member_of"
            }
        )
        return JSONResponse(
            {
                "root": root,
                "total": len(nodes),
                "groups": [
                    {"entity_type": t, "count": len(es), "entities": es}
                    for t, es in sorted(groups.items())
                ],
                "notify": {
                    "owners": [self._ref(o, tx) for o in owners],
                    "teams": [self._ref(t, tx) for t in teams],
                },
                **self._as_of(request, tx),
            }
        )

    async def usage(self, request: Request) -> Response:
        tx = self._tx(request)
        entity_id = request.query_params["id"]
        entity = self.graph.get(entity_id, tx)
        if entity is None:
            return error(404, "not_found", f"{entity_id} does not exist")
        edges = self.graph.edges(tx)

        def cells_of(instance: str, test: str) -> list[JSON]:
            runs = [t for s, t, r in edges if s == instance and r["type"] == "produced_by"]
            cells = [t for s, t, r in edges if s in runs and r["type"] == "ran_for"]
            return [
                {"id": c, "name": self.graph.name(c, tx)}
                for c in cells
                if any(s == c and t == test for s, t, r in edges)
            ]

        if entity["entity_type"] == "AbTest":
            instances = [s for s, t, r in edges if t == entity_id and r["type"] == "tested_in"]
            models = sorted(
                {t for s, t, r in edges if s in instances and r["type"] == "instance_of"}
            )
            return JSONResponse(
                {
                    "id": entity_id,
                    "instances": [
                        {
                            **self._ref(i, tx),
                            "model": next(
                                (
                                    self._ref(t, tx)
                                    for s, t, r in edges
                                    if s == i and r["type"] == "instance_of"
                                ),
                                None,
                            ),
                            "cells": cells_of(i, entity_id),
                        }
                        for i in instances
                    ],
                    "models": [self._ref(m, tx) for m in models],
                    **self._as_of(request, tx),
                }
            )
        instances = (
            [entity_id]
            if entity["entity_type"] == "ModelInstance"
            else [s for s, t, r in edges if t == entity_id and r["type"] == "instance_of"]
        )
        tests: dict[str, JSON] = {}
        for inst in instances:
            for s, t, r in edges:
                if s == inst and r["type"] == "tested_in":
                    test = tests.setdefault(
                        t,
                        {
                            **self._ref(t, tx),
                            "status": (self.graph.get(t, tx) or {})
                            .get("attributes", {})
                            .get("status"),
                            "cells": [],
                            "via": [],
                        },
                    )
                    test["cells"] += cells_of(inst, t)
                    test["via"].append(inst)
        return JSONResponse(
            {"id": entity_id, "ab_tests": list(tests.values()), **self._as_of(request, tx)}
        )

    async def path(self, request: Request) -> Response:
        tx = self._tx(request)
        start, goal = request.query_params["from"], request.query_params["to"]
        edges = self.graph.edges(tx)
        previous: dict[str, tuple[str, JSON] | None] = {start: None}
        frontier = [start]
        while frontier and goal not in previous:
            following = []
            for node in frontier:
                for s, t, r in edges:
                    for a, b in ((s, t), (t, s)):
                        if a == node and b not in previous:
                            previous[b] = (node, {"source": s, "target": t, "type": r["type"]})
                            following.append(b)
            frontier = following
        if goal not in previous:
            return error(404, "no_path", f"no path from {start} to {goal}")
        chain, path_edges, node = [goal], [], goal
        while (step := previous[node]) is not None:
            node, edge = step
            chain.append(node)
            path_edges.append(edge)
        chain.reverse()
        path_edges.reverse()
        return JSONResponse(
            {
                "from": start,
                "to": goal,
                "path": [self._ref(i, tx) for i in chain],
                "edges": path_edges,
                **self._as_of(request, tx),
            }
        )

    async def history(self, request: Request) -> Response:
        self.graph.requests.append(f"{request.url.path}?{request.url.query}")
        entity_id = request.query_params.get("id")
        limit = int(request.query_params.get("limit", 50))
        before = request.query_params.get("before_tx")
        upto = self.graph.resolve(
            request.query_params.get("as_of"), request.query_params.get("known_at")
        )
        txs = [
            t
            for t in reversed(self.graph.txs)
            if t.tx <= upto and (before is None or t.tx < int(before))
        ]
        if entity_id:
            return JSONResponse(
                {
                    "id": entity_id,
                    "transactions": [
                        {
                            "tx": t.tx,
                            "at": t.at,
                            "cause": t.cause,
                            "changes": [{**c, "valid": t.at} for c in t.changes[entity_id]],
                        }
                        for t in txs
                        if entity_id in t.changes
                    ][:limit],
                }
            )
        return JSONResponse(
            {
                "transactions": [
                    {
                        "tx": t.tx,
                        "at": t.at,
                        "cause": t.cause,
                        "entities": t.entities,
                        "datoms": sum(len(c) for c in t.changes.values()),
                    }
                    for t in txs[:limit]
                ]
            }
        )

    async def similar(self, request: Request) -> Response:
        tx = self.graph.last_tx
        model = request.query_params["id"]
        others = [
            e["id"] for e in self.graph.all(tx) if e["entity_type"] == "Model" and e["id"] != model
        ]
        return JSONResponse(
            {
                "id": model,
                "similar": [
                    {**self._ref(o, tx), "score": 0.5, "shared_features": [WATCH]} for o in others
                ],
            }
        )

    async def suggestions(self, request: Request) -> Response:
        tx = self.graph.last_tx
        return JSONResponse(
            {
                "id": request.query_params["id"],
                "suggestions": [
                    {"feature": self._ref(TENURE, tx), "score": 0.4, "because": [CHURN]}
                ],
            }
        )

    async def quality(self, request: Request) -> Response:
        tx = self.graph.last_tx
        every = [e for e in self.graph.all(tx) if e["entity_type"] not in ("User", "Team")]
        missing_owners = [
            self._ref(e["id"], tx) for e in every if not e["owners"] and e["status"] != "stub"
        ]
        missing_desc = [self._ref(e["id"], tx) for e in every if not e["description"]]
        stubs = [self._ref(e["id"], tx) for e in every if e["status"] == "stub"]
        return JSONResponse(
            {
                "summary": {
                    "missing_owners": len(missing_owners),
                    "missing_descriptions": len(missing_desc),
                    "unresolved_stubs": len(stubs),
                },
                "missing_owners": missing_owners,
                "missing_descriptions": missing_desc,
                "stale": [],
                "unresolved_stubs": stubs,
                "dangling_references": [],
                "unused": [],
            }
        )

    async def changes(self, request: Request) -> Response:
        """Server-sent events, long-poll style: httpx's ASGI transport buffers a whole
        response, so each connection waits briefly for new transactions and then ends."""
        graph = self.graph

        async def events() -> AsyncIterator[bytes]:
            if graph._streamed_tx == 0:
                graph._streamed_tx = graph.last_tx
            graph.changed.clear()
            if graph.last_tx <= graph._streamed_tx:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(graph.changed.wait(), timeout=1.5)
            for tx in graph.txs[graph._streamed_tx :]:
                data = json.dumps({"tx": tx.tx, "at": tx.at, "entities": tx.entities})
                yield f"event: tx\ndata: {data}\n\n".encode()
            graph._streamed_tx = graph.last_tx
            yield b": ping\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


if __name__ == "__main__":
    # Manual runs: `python tests/tui/fake_daemon.py /tmp/fake.sock`, then
    # `mds-tui --socket /tmp/fake.sock`.
    import sys

    import uvicorn

    uvicorn.run(FakeDaemon().app, uds=sys.argv[1], log_level="warning")
