"""The lineage graph's flow and layout, without a screen: edges turned to run with the
data, folding, and a drawing where every edge is an unbroken line into an arrowhead."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from mds.graph.flow import FlowEdge, FlowGraph, flow_edge
from mds.graph.layout import Drawing, E, N, S, W, lay_out, plain

#: a model instance's neighbourhood, as the lineage API answers it (edges as stored)
UPSTREAM: dict[str, Any] = {
    "nodes": [
        {"id": "inst", "entity_type": "ModelInstance", "name": "ranker-v5", "depth": 0},
        {"id": "run", "entity_type": "PipelineRun", "name": "run 42", "depth": 1},
        {"id": "feat", "entity_type": "Feature", "name": "ctr", "depth": 1},
        {"id": "pipe", "entity_type": "Pipeline", "name": "train", "depth": 2},
        {"id": "clicks", "entity_type": "Dataset", "name": "clicks", "depth": 2},
        {"id": "views", "entity_type": "Dataset", "name": "views", "depth": 2},
        {"id": "raw", "entity_type": "Dataset", "name": "raw", "depth": 3},
    ],
    "edges": [
        {"source": "inst", "target": "run", "type": "produced_by"},
        {"source": "inst", "target": "feat", "type": "uses_feature"},
        {"source": "run", "target": "pipe", "type": "run_of"},
        {"source": "run", "target": "clicks", "type": "reads"},
        {"source": "run", "target": "views", "type": "reads"},
        {"source": "feat", "target": "clicks", "type": "derived_from"},
        {"source": "clicks", "target": "raw", "type": "derived_from"},
        {"source": "views", "target": "raw", "type": "derived_from"},
    ],
}
DOWNSTREAM: dict[str, Any] = {
    "nodes": [
        {"id": "inst", "entity_type": "ModelInstance", "name": "ranker-v5", "depth": 0},
        {"id": "model", "entity_type": "Model", "name": "ranker", "depth": 1},
        {"id": "test", "entity_type": "AbTest", "name": "test 7", "depth": 1},
    ],
    "edges": [
        {"source": "inst", "target": "model", "type": "instance_of"},
        {"source": "inst", "target": "test", "type": "tested_in", "inferred": True},
    ],
}


def graph() -> FlowGraph:
    return FlowGraph.from_answers("inst", [UPSTREAM, DOWNSTREAM])


def labels(g: FlowGraph) -> dict[str, str]:
    return {n: f"{v.get('entity_type', '?')[:4]} {v.get('name', n)}" for n, v in g.nodes.items()}


def draw(g: FlowGraph) -> Drawing:
    names = labels(g)
    return lay_out(g, lambda n: len(names[n]))


def test_edges_run_with_the_data_whichever_way_the_relationship_points() -> None:
    assert flow_edge({"source": "run", "target": "d", "type": "reads"}) == FlowEdge(
        "d", "run", "reads", False
    )
    assert flow_edge({"source": "run", "target": "d", "type": "writes"}) == FlowEdge(
        "run", "d", "writes", False
    )
    flows = {(e.upstream, e.downstream) for e in graph().edges}
    assert ("raw", "clicks") in flows and ("run", "inst") in flows and ("inst", "test") in flows


def test_folding_hides_only_what_the_root_reaches_through_the_folded_node() -> None:
    g = graph()
    assert g.behind("run") == {"pipe", "views"}  # clicks and raw are also reached via feat
    assert g.behind("feat") == set()  # clicks is also read by the run
    assert g.side_of("test") == 1 and g.side_of("raw") == -1 and g.side_of("inst") == 0
    folded = g.collapsed(["run"])
    assert set(folded.nodes) == set(g.nodes) - {"pipe", "views"}
    assert folded.hidden == {"run": 2}
    assert all("views" not in (e.upstream, e.downstream) for e in folded.edges)


def _linked(drawing: Drawing, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether cells a and b (neighbours) are joined by a line: each leaves toward the other."""
    (r1, c1), (r2, c2) = a, b
    toward = {(0, 1): (E, W), (0, -1): (W, E), (1, 0): (S, N), (-1, 0): (N, S)}
    out, back = toward[(r2 - r1, c2 - c1)]
    return bool(drawing.lines.get(a, 0) & out) and bool(drawing.lines.get(b, 0) & back)


def assert_well_drawn(drawing: Drawing, g: FlowGraph) -> None:
    places = drawing.places
    assert set(places) == set(g.nodes)
    # labels never overlap, and a layer is one column
    cells = [(p.row, c) for p in places.values() for c in range(p.col, p.col + p.width)]
    assert len(cells) == len(set(cells))
    for layer in drawing.layers:
        assert len({places[n].col for n in layer}) == 1
        assert [places[n].row for n in layer] == sorted(places[n].row for n in layer)
    for index, edge in enumerate(drawing.edges):
        up, down = places[edge.upstream], places[edge.downstream]
        forward = up.rank < down.rank
        # an arrowhead next to the node the data flows into, the line starting at the other
        head = (down.row, down.col - 1) if forward else (down.row, down.col + down.width)
        tail = (up.row, up.col + up.width) if forward else (up.row, up.col - 1)
        assert drawing.arrows.get(head) == ("▶" if forward else "◀"), edge
        # the cells of this edge join the tail to the head without a gap
        mine = {cell for cell, through in drawing.through.items() if through >> index & 1}
        start, end = (tail, head) if forward else (head, tail)
        assert start in mine and end in mine, edge
        seen, stack = {start}, [start]
        while stack:
            r, c = stack.pop()
            for other in ((r, c + 1), (r, c - 1), (r + 1, c), (r - 1, c)):
                if other in mine and other not in seen and _linked(drawing, (r, c), other):
                    seen.add(other)
                    stack.append(other)
        assert end in seen, edge
        # no line runs under a label
        assert not mine & set(cells), edge


def test_a_drawing_has_every_edge_as_a_line_into_an_arrowhead() -> None:
    g = graph()
    drawing = draw(g)
    assert_well_drawn(drawing, g)
    lines = plain(drawing, labels(g))

    def column(name: str) -> int:
        return next(line.index(name) for line in lines if name in line)

    # data flows left to right: upstream on the left of the root, downstream on its right
    assert column("raw") < column("clicks") < column("run 42") < column("ranker-v5")
    assert column("ranker-v5") < column("test 7")


@pytest.mark.parametrize("seed", range(12))
def test_random_dags_are_drawn_whole(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randint(2, 60)
    nodes: list[Mapping[str, Any]] = [
        {"id": f"n{i}", "entity_type": "Dataset", "name": f"d{i}" * rng.randint(1, 4)}
        for i in range(size)
    ]
    edges = [
        {"source": f"n{j}", "target": f"n{i}", "type": "derived_from"}
        for i in range(1, size)
        for j in rng.sample(range(i), min(i, rng.randint(1, 3)))
    ]
    g = FlowGraph.from_answers("n0", [{"nodes": nodes, "edges": edges}])
    assert_well_drawn(draw(g), g)


def test_a_cycle_is_drawn_with_its_back_edge_pointing_back() -> None:
    nodes = [{"id": x, "entity_type": "Dataset", "name": x} for x in "abc"]
    edges = [{"source": b, "target": a, "type": "derived_from"} for a, b in ("ab", "bc", "ca")]
    g = FlowGraph.from_answers("a", [{"nodes": nodes, "edges": edges}])
    drawing = draw(g)
    assert_well_drawn(drawing, g)
    assert "◀" in drawing.arrows.values()
