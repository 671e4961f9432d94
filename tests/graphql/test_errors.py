"""What a caller gets wrong, answered with a message to act on and a code to branch on."""

from __future__ import annotations

from typing import Any

import pytest
from graphql_org import MODEL, PIPELINE, V5, Graph, T, entity, run

from mdsd.api.graphql import limits
from mdsd.reads.cost import ReadLimits

BY_ID = "query($id: ID!) { model(id: $id) { name } }"


def only_error(answer: dict[str, Any]) -> dict[str, Any]:
    assert len(answer["errors"]) == 1, answer["errors"]
    return answer["errors"][0]


async def test_unknown_field_fails_validation(graph: Graph) -> None:
    answer = await run(graph.daemon, "query($id: ID!) { model(id: $id) { name colour } }", id=MODEL)
    error = only_error(answer)
    assert "Cannot query field 'colour' on type 'Model'" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert answer["data"] is None


async def test_unknown_id(graph: Graph) -> None:
    missing = "aip://model/registry/nope"
    answer = await run(graph.daemon, BY_ID, id=missing)
    error = only_error(answer)
    assert error["message"] == f"no entity {missing!r} now"
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["path"] == ["model"]
    assert answer["data"] == {"model": None}


async def test_id_not_there_yet_as_of(graph: Graph) -> None:
    before = graph.tx
    late = entity(T.MODEL, "late-model", "Late")
    graph.write(late)
    answer = await run(graph.daemon, BY_ID.replace("model", "entity"), f"tx:{before}", id=late.id)
    error = only_error(answer)
    assert error["message"] == f"no entity {late.id!r} as of tx {before}"
    assert error["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("query", "id", "message"),
    [
        (BY_ID, "ranking-model", "not an aip id"),
        (BY_ID, PIPELINE, "is a Pipeline, not a Model"),
        (
            'query($id: ID!) { model(id: $id, asOf: "yesterday-ish") { name } }',
            MODEL,
            "bad as_of",
        ),
        (
            "query($id: ID!) { modelInstance(id: $id) { features(first: 5000) { totalCount } } }",
            V5,
            "first must be between 0 and 1000",
        ),
        (
            'query($id: ID!) { modelInstance(id: $id) { features(after: "zz") { totalCount } } }',
            V5,
            "bad cursor",
        ),
    ],
)
async def test_bad_arguments(graph: Graph, query: str, id: str, message: str) -> None:
    error = only_error(await run(graph.daemon, query, id=id))
    assert message in error["message"]
    assert error["extensions"]["code"] in ("BAD_REQUEST", "NOT_FOUND")


async def test_over_deep_query_is_refused_before_it_runs(graph: Graph) -> None:
    nested = "name"
    for _ in range(7):
        nested = f"model {{ currentInstance {{ {nested} }} }}"
    query = "query($id: ID!) { modelInstance(id: $id) { " + nested + " } }"
    answer = await run(graph.daemon, query, id=V5)
    error = only_error(answer)
    assert f"exceeds maximum operation depth of {limits.MAX_DEPTH}" in error["message"]
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert answer["data"] is None


async def test_query_reading_too_much_is_stopped_with_one_error(graph: Graph) -> None:
    query = """query($id: ID!) { model(id: $id) { instances { nodes { features { nodes {
        data { nodes { name } } } } } } } }"""
    answer = await run(graph.daemon, query, limits=ReadLimits(visits=5), id=MODEL)
    error = only_error(answer)
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert "visits more than 5 records" in error["message"]
    assert answer["data"] is None


async def test_records_read_again_are_charged_again(graph: Graph) -> None:
    """Work, not distinct entities, is what a query costs: the same two entities visited
    back and forth through nested relationships run the meter up."""
    nested = "name"
    for _ in range(4):
        nested = f"name relationships {{ target {{ {nested} }} }}"
    query = "query($id: ID!) { modelInstance(id: $id) { " + nested + " } }"
    generous = await run(graph.daemon, query, limits=ReadLimits(visits=100_000), id=V5)
    assert "errors" not in generous
    tight = await run(graph.daemon, query, limits=ReadLimits(visits=200), id=V5)
    assert only_error(tight)["extensions"]["code"] == "QUERY_TOO_LARGE"


async def test_a_query_past_its_deadline_is_stopped(graph: Graph) -> None:
    query = """query($id: ID!) { model(id: $id) { instances { nodes { features { nodes {
        data { nodes { name } } } } } } } }"""
    answer = await run(graph.daemon, query, limits=ReadLimits(seconds=0.0), id=MODEL)
    error = only_error(answer)
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert "deadline" in error["message"]


async def test_pages_follow_cursors(graph: Graph) -> None:
    query = """query($id: ID!, $after: String) { modelInstance(id: $id) {
        features(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { name } } } }"""
    first = (await run(graph.daemon, query, id=V5))["data"]["modelInstance"]["features"]
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"]
    after = first["pageInfo"]["endCursor"]
    second = (await run(graph.daemon, query, id=V5, after=after))["data"]["modelInstance"]
    second = second["features"]
    assert [first["nodes"][0]["name"], second["nodes"][0]["name"]] == [
        "genre_affinity",
        "watch_time_7d",
    ]
    assert not second["pageInfo"]["hasNextPage"]
