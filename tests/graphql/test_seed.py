"""The seed's promise: one query for tests, features, data and owners, now and as of."""

from __future__ import annotations

import httpx
from graphql_org import (
    ALICE,
    CAROL,
    MODEL,
    PIPELINE,
    RUN,
    RUN6,
    TEST,
    TREATMENT,
    V5,
    V6,
    Graph,
    T,
    data,
    entity,
    run,
)

from mds.wire.model import Rel
from mdsd.api.rest import create_app
from mdsd.connectors.identity import team, user
from mdsd.connectors.payload import Payload
from mdsd.daemon import Daemon

SEED = """
{ model(id: "aip://model/registry/ranking-model") { name owners { name }
    currentInstance { version pipeline { name owners { name } }
      features { edges { node { name data { edges { node { name } } } } } }
      associatedAbTests { name cells { number name } } } } }
"""

REVERSE = """
query($id: ID!) { abTest(id: $id) { name testStatus
    testedInstances { id version model { name } cells { number } } } }
"""

SEED_ANSWER = {
    "model": {
        "name": "Ranking model",
        "owners": [{"name": "Alice"}],
        "currentInstance": {
            "version": "5",
            "pipeline": {"name": "Weekly ranking trainer", "owners": [{"name": "Bob"}]},
            "features": {
                "edges": [
                    {
                        "node": {
                            "name": "genre_affinity",
                            "data": {
                                "edges": [
                                    {"node": {"name": "catalog"}},
                                    {"node": {"name": "playback-events"}},
                                ]
                            },
                        }
                    },
                    {
                        "node": {
                            "name": "watch_time_7d",
                            "data": {"edges": [{"node": {"name": "watch-sessions"}}]},
                        }
                    },
                ]
            },
            "associatedAbTests": [
                {"name": "Ranking v5 vs v4", "cells": [{"number": 2, "name": "treatment"}]}
            ],
        },
    }
}


async def test_seed_query_answers_in_one_go(graph: Graph) -> None:
    assert await data(graph.daemon, SEED) == SEED_ANSWER


async def test_reverse_query_finds_the_models_a_test_runs(graph: Graph) -> None:
    answer = await data(graph.daemon, REVERSE, id=TEST)
    assert answer["abTest"] == {
        "name": "Ranking v5 vs v4",
        "testStatus": "ACTIVE",
        "testedInstances": [
            {"id": V5, "version": "5", "model": {"name": "Ranking model"}, "cells": [{"number": 2}]}
        ],
    }


async def test_all_cells_of_a_test_reached_through_an_instance(graph: Graph) -> None:
    query = "query($id: ID!) { modelInstance(id: $id) { associatedAbTests { cells(all: true) { name } } } }"
    answer = await data(graph.daemon, query, id=V5)
    assert answer["modelInstance"]["associatedAbTests"][0]["cells"] == [
        {"name": "control"},
        {"name": "treatment"},
    ]


async def test_seed_query_as_of_before_a_change(graph: Graph) -> None:
    before = graph.tx
    d = graph.daemon
    # the model changes hands and gets a new description; v6 is trained and tested
    graph.write(
        entity(
            T.MODEL,
            "ranking-model",
            "Ranking model",
            description="Ranks every row",
            rels={Rel.CURRENT_INSTANCE: [V6]},
            mentions=[V5, V6],
            updated_at="2025-02-01T00:00:00Z",
        ),
        owners=[CAROL],
    )
    graph.write(
        entity(
            T.PIPELINE_RUN,
            "train-weekly-ranking-20250201",
            rels={Rel.RUN_OF: [PIPELINE], Rel.RAN_FOR: [TREATMENT]},
        )
    )
    graph.write(
        entity(
            T.MODEL_INSTANCE,
            "ranking-model-v6-20250201",
            rels={Rel.INSTANCE_OF: [MODEL], Rel.PRODUCED_BY: [RUN6]},
            attrs={"version": "6"},
        )
    )
    graph.tested_in(V6, TREATMENT, TEST, RUN6)

    now = await data(d, SEED)
    assert now["model"]["owners"] == [{"name": "Carol"}]
    assert now["model"]["currentInstance"]["version"] == "6"
    assert await data(d, SEED, as_of=f"tx:{before}") == SEED_ANSWER

    # the root's own asOf wins over the request's, and two moments fit in one query
    both = await data(
        d,
        """query($id: ID!, $then: String) {
             now: model(id: $id) { description instances { totalCount } }
             then: model(id: $id, asOf: $then) { description instances { totalCount } }
             basis(asOf: $then) { tx } }""",
        id=MODEL,
        then=f"tx:{before}",
    )
    assert both["now"] == {"description": "Ranks every row", "instances": {"totalCount": 3}}
    assert both["then"] == {
        "description": "Ranks the home page rows",
        "instances": {"totalCount": 2},
    }
    assert both["basis"] == {"tx": before}

    tested = await data(d, REVERSE, id=TEST)
    assert [i["version"] for i in tested["abTest"]["testedInstances"]] == ["5", "6"]
    tested = await data(d, REVERSE, as_of=f"tx:{before}", id=TEST)
    assert [i["version"] for i in tested["abTest"]["testedInstances"]] == ["5"]


async def test_entity_interface_fields_and_relationships(graph: Graph) -> None:
    answer = await data(
        graph.daemon,
        """query($id: ID!) { entity(id: $id) {
             __typename id entityType status tags { tag value } createdAt
             ... on ModelInstance { deploymentStatus }
             relationships(type: "tested_in") { direction inferred target { id }
               provenance { rule path } } } }""",
        id=V5,
    )
    assert answer["entity"]["__typename"] == "ModelInstance"
    assert answer["entity"]["entityType"] == "MODEL_INSTANCE"
    assert answer["entity"]["status"] == "RESOLVED"
    assert answer["entity"]["deploymentStatus"] == "production"
    rels = answer["entity"]["relationships"]
    assert {r["target"]["id"] for r in rels} == {TEST, TREATMENT}
    assert all(r["inferred"] and r["direction"] == "OUT" for r in rels)
    assert rels[0]["provenance"]["path"] == [V5, RUN, TREATMENT, TEST]

    query = "query($id: ID!) { model(id: $id) { tags { tag value } createdAt } }"
    model = await data(graph.daemon, query, id=MODEL)
    assert model["model"] == {
        "tags": [{"tag": "domain", "value": "home"}],
        "createdAt": "2024-06-01T00:00:00+00:00",
    }


async def test_lineage_impact_and_history_match_rest(graph: Graph) -> None:
    d = graph.daemon
    answer = await data(
        d,
        """query($id: ID!) {
             lineage(id: $id, direction: UPSTREAM) { root { id } nodes { depth entity { id } } }
             impact(id: "aip://dataset/datasets/playback-events") {
               total owners { id } teams { name } groups { entityType count } }
             history(id: $id) { transactions { tx changes { attribute op value } } } }""",
        id=V5,
    )
    from mdsd.reads import queries

    db = d.store.db()
    rest = queries.lineage(db, V5, "upstream")
    assert {n["entity"]["id"] for n in answer["lineage"]["nodes"]} == {
        n["id"] for n in rest["nodes"]
    }
    rest_impact = queries.impact(db, "aip://dataset/datasets/playback-events")
    assert answer["impact"]["total"] == rest_impact["total"]
    assert {o["id"] for o in answer["impact"]["owners"]} == {
        o["id"] for o in rest_impact["notify"]["owners"]
    }
    assert ALICE in {o["id"] for o in answer["impact"]["owners"]}
    assert answer["impact"]["teams"] == [{"name": "Personalization"}]
    history = answer["history"]["transactions"]
    assert [t["tx"] for t in history] == [
        t["tx"] for t in queries.history(d.store.db(), V5)["transactions"]
    ]
    assert {"attribute": "rel/tested_in", "op": "ASSERT", "value": TEST} in history[-1]["changes"]


async def test_search_reads_the_index(graph: Graph) -> None:
    graph.daemon.indexer.flush()
    answer = await data(
        graph.daemon, '{ search(query: "ranking", type: MODEL) { score entity { id name } } }'
    )
    assert [h["entity"]["id"] for h in answer["search"]] == [MODEL]


async def test_served_by_the_daemon_app(graph: Graph) -> None:
    """Through the real Starlette app: the endpoint's as_of is the roots' default."""
    before = graph.tx
    graph.write(
        entity(T.MODEL, "ranking-model", "Ranking model", rels={Rel.CURRENT_INSTANCE: [V5]}),
        owners=[CAROL],
    )
    transport = httpx.ASGITransport(app=create_app(graph.daemon.api))
    async with httpx.AsyncClient(transport=transport, base_url="http://mds") as client:
        response = await client.post("/v1/graphql", json={"query": SEED})
        assert response.status_code == 200
        assert response.json()["data"]["model"]["owners"] == [{"name": "Carol"}]

        response = await client.post(
            "/v1/graphql", json={"query": SEED}, params={"as_of": f"tx:{before}"}
        )
        body = response.json()
        assert body["data"] == SEED_ANSWER
        assert body["extensions"]["as_of"]["tx"] == before

        response = await client.post("/v1/graphql", json={"query": SEED}, params={"as_of": "soon"})
        assert response.status_code == 400
        assert "as_of" in response.json()["error"]["message"]

        response = await client.post("/v1/graphql", json={"variables": {}})
        assert response.status_code == 400
        assert '"query"' in response.json()["error"]["message"]

    assert (await run(graph.daemon, SEED))["data"]["model"]["owners"] == [{"name": "Carol"}]


async def test_user_teams_as_either_side_states_them(daemon: Daemon) -> None:
    g = Graph(daemon)
    [ann] = user(Payload({"id": "ann", "team_ids": ["ml"]}, "test"))
    g.write(ann)
    for payload in ({"id": "search", "member_ids": ["ann"]}, {"id": "ml", "member_ids": []}):
        g.write(*team(Payload(payload, "test")))
    query = "query($id: ID!) { entity(id: $id) { ... on User { teams { id } } } }"
    answer = await data(daemon, query, id="aip://user/identity/ann")
    assert {t["id"] for t in answer["entity"]["teams"]} == {
        "aip://team/identity/ml",
        "aip://team/identity/search",
    }
