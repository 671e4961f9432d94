"""``mds lineage -o graph|dot|mermaid``: the lineage drawn with the data, for a terminal
and for documents; other commands refuse to draw."""

from __future__ import annotations

import re

from conftest import Run
from fake_mdsd import DATASET, DATASET_VERSION, FEATURE, INSTANCE, PIPELINE, RUN

#: (upstream, downstream) of every edge of the fake's lineage, turned to run with the data
FLOWS = {
    (RUN, INSTANCE),
    (FEATURE, INSTANCE),
    (PIPELINE, RUN),
    (DATASET_VERSION, RUN),
    (DATASET, DATASET_VERSION),
    (DATASET, FEATURE),
}


def test_dot_draws_every_edge_with_the_data(mds: Run) -> None:
    result = mds("lineage", INSTANCE, "-o", "dot")
    assert result.code == 0, result.err
    assert result.out.startswith("digraph lineage {") and "rankdir=LR" in result.out
    edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)"', result.out, re.MULTILINE))
    assert edges == FLOWS
    assert '"INST ranking-model-v5-20250101", penwidth=2' in result.out  # the root


def test_mermaid_names_nodes_by_label_and_draws_the_same_edges(mds: Run) -> None:
    result = mds("lineage", INSTANCE, "-o", "mermaid")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = dict(re.findall(r'^  (n\d+)\["([^"]+)"\]$', result.out, re.MULTILINE))
    by_label = {label.split(" ", 1)[1]: node for node, label in nodes.items()}
    edges = set(re.findall(r"^  (n\d+) -->\|\w+\| (n\d+)$", result.out, re.MULTILINE))
    names = {
        RUN: "train-weekly-ranking-20250101",
        INSTANCE: "ranking-model-v5-20250101",
        FEATURE: "watch-time-7d",
        PIPELINE: "weekly-ranking-trainer",
        DATASET_VERSION: "playback-events@2025-01-01",
        DATASET: "playback-events",
    }
    assert edges == {(by_label[names[a]], by_label[names[b]]) for a, b in FLOWS}


def test_graph_draws_upstream_on_the_left(mds: Run) -> None:
    result = mds("lineage", INSTANCE, "-o", "graph")
    assert result.code == 0, result.err

    def column(name: str) -> int:
        return next(line.index(name) for line in result.out.splitlines() if name in line)

    assert column("DATA playback-events") < column("DVER playback-events@") < column("RUN ")
    assert column("RUN train-weekly") < column("INST ranking-model-v5")
    # one arrowhead into each node data flows into, the edges into it meeting there
    assert result.out.count("▶") == len({down for _, down in FLOWS})
    assert "DVER playback-events@2025-01-01" in result.out  # labels are not cut short here


def test_only_lineage_draws(mds: Run) -> None:
    result = mds("impact", DATASET, "-o", "dot")
    assert result.code == 2
    assert "invalid choice: 'dot'" in result.err
