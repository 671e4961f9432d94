"""What people read: the text renderings of the full answers, checked line by line where
the layout is the point (cards, trees, +/- changes)."""

from __future__ import annotations

from fake_mdsd import AB_TEST, ALICE, DATASET, INSTANCE, MODEL, RUN, FakeDaemon, Run


def test_search_is_a_table_best_first(mds: Run) -> None:
    lines = mds("search", "ranking").out.splitlines()
    assert lines[0].split() == ["TYPE", "NAME", "ID", "SCORE"]
    assert lines[1].split() == ["[Model]", "ranking-model", MODEL, "12.5"]
    assert lines[2].split() == ["[ModelInstance]", "ranking-model-v5-20250101", INSTANCE, "3.25"]
    assert lines[-1] == "(as of tx 100, 2025-01-02T03:04:05Z)"


def test_show_is_a_card_with_grouped_relationships(mds: Run) -> None:
    out = mds("show", INSTANCE).out
    assert out.startswith("ranking-model-v5-20250101 [ModelInstance]\n")
    assert f"  owners         Alice <{ALICE}>\n" in out
    assert "  tags           tier=1, experimental\n" in out
    assert "  status         resolved, stale\n" in out
    assert "  last enriched  2025-01-02T03:04:05Z\n" in out
    assert "  attributes:\n    version  5\n" in out
    relationships = out[out.index("relationships (5):") :].splitlines()
    assert relationships[1:3] == ["  → instance_of", f"      [Model] ranking-model  {MODEL}"]
    tested = relationships.index("  → tested_in")
    assert relationships[tested + 1].endswith("(inferred: tested_in_via_run)")
    assert relationships[tested + 2].strip() == (
        "via ranking-model-v5-20250101 → train-weekly-ranking-20250101 → 12345/2 → 12345"
    )
    assert "  ← current_instance" in relationships  # incoming after outgoing
    assert relationships.index("  ← current_instance") > tested


def test_lineage_is_a_tree_by_depth(mds: Run) -> None:
    lines = mds("lineage", INSTANCE).out.splitlines()
    assert lines == [
        "upstream lineage, 5 node(s):",
        f"[ModelInstance] ranking-model-v5-20250101  {INSTANCE}",
        f"├─ produced_by  [PipelineRun] train-weekly-ranking-20250101  {RUN}",
        "│  ├─ reads  [DatasetVersion] playback-events@2025-01-01  "
        "aip://dataset-version/datasets/playback-events@2025-01-01",
        "│  └─ run_of  [Pipeline] weekly-ranking-trainer  "
        "aip://pipeline/orchestrator/weekly-ranking-trainer",
        "└─ uses_feature  [Feature] watch-time-7d  aip://feature/featurestore/watch-time-7d",
        f"   └─ derived_from  [Dataset] playback-events  {DATASET}",
    ]


def test_impact_groups_by_type_and_names_whom_to_notify(mds: Run) -> None:
    out = mds("impact", DATASET).out
    assert out.startswith(f"impact of {DATASET}: 3 downstream\nFeature (1)\n  NAME")
    assert f"  owners  Alice <{ALICE}>\n" in out
    assert "  teams   Personalization <aip://team/identity/personalization>\n" in out


def test_history_shows_changes_as_plus_and_minus_with_both_times(mds: Run) -> None:
    """Each transaction when mds recorded it (system time), each change from when it held
    in its source (valid time)."""
    lines = mds("history", INSTANCE).out.splitlines()
    assert lines[:4] == [
        f"history of {INSTANCE} (tx recorded at; each change valid from)",
        "tx 118  recorded 2025-01-02T03:04:05Z  kind=event event_type=model_instance_updated",
        '  - status "staged"  valid 2025-01-01T09:00:00Z',
        '  + status "production"  valid 2025-01-01T09:00:00Z',
    ]
    assert f'  + tested_in "{AB_TEST}"  (Home feed ranking v5)' in lines


def test_global_history_is_one_line_per_transaction(mds: Run) -> None:
    lines = mds("history").out.splitlines()
    assert lines[0].split() == ["TX", "RECORDED", "VALID", "DATOMS", "CAUSE", "ENTITIES"]
    assert "2024-12-30T00:00:00Z..2025-01-01T09:00:00Z" in lines[1]
    assert lines[1].endswith(
        "ranking-model-v5-20250101, ranking-model, train-weekly-ranking-20250101 +1 more"
    )


def test_the_footer_says_both_axes_when_the_valid_time_is_not_the_latest(
    mds: Run, daemon: FakeDaemon
) -> None:
    daemon.documents["/v1/search"]["as_of"] = {
        "tx": 100,
        "at": "2025-01-02T03:04:05Z",
        "valid_time": "2025-01-01T23:59:59.999999Z",
    }
    lines = mds("search", "ranking", "--as-of", "2025-01-01").out.splitlines()
    assert lines[-1] == (
        "(as of 2025-01-01T23:59:59.999999Z valid time; "
        "as mds knew it at tx 100, 2025-01-02T03:04:05Z)"
    )


def test_path_marks_edge_direction(mds: Run) -> None:
    lines = mds("path", DATASET, MODEL).out.splitlines()
    assert lines[1:2] == ["  ↑ derived_from"]
    assert lines[-2:] == ["  ↓ instance_of", f"[Model] ranking-model  {MODEL}"]


def test_status_is_key_values_with_a_sources_table(mds: Run) -> None:
    lines = mds("status").out.splitlines()
    assert lines[0] == "entities      42"
    sources = lines.index("sources:")
    assert lines[sources + 1].split() == ["state", "requests", "errors", "retry_after"]
    assert lines[sources + 3].split() == ["identity", "backoff", "4", "2", "1.5"]


def test_empty_answers_say_so_on_stderr(mds: Run, daemon) -> None:  # type: ignore[no-untyped-def]
    daemon.documents["/v1/search"] = {"results": []}
    result = mds("search", "nothing")
    assert (result.out, result.err) == ("", "mds: no results\n")


def test_usage_names_tests_and_models(mds: Run) -> None:
    lines = mds("usage", MODEL).out.splitlines()
    assert lines[2].split()[:2] == ["ACTIVE", "Ranking"]  # the test's status, not the entity's
    lines = mds("usage", AB_TEST).out.splitlines()
    assert lines[2].split() == [
        "ranking-model-v5-20250101",
        INSTANCE,
        "ranking-model",
        "12345",  # a cell, named with its test's number
        "·",
        "treatment",
    ]


def test_a_lineage_diamond_names_the_edge_the_tree_cannot_draw() -> None:
    """Two runs write one table, and the table feeds the job: the tree hangs the table
    under one run and says the other wrote it too, so no edge of the walk goes unsaid."""
    import argparse
    import io

    from mds.cli import render
    from mds.cli.spec import Out

    def node(xid: str, depth: int) -> dict[str, object]:
        return {"id": xid, "name": xid.rsplit("/", 1)[-1], "entity_type": "X", "depth": depth}

    doc = {
        "root": "aip://dataset/d/out",
        "direction": "upstream",
        "nodes": [node("aip://dataset/d/out", 0), node("aip://run/r/a", 1), node("aip://run/r/b", 1),
                  node("aip://dataset/d/in", 2)],
        "edges": [
            {"source": "aip://run/r/a", "target": "aip://dataset/d/out", "type": "writes"},
            {"source": "aip://run/r/b", "target": "aip://dataset/d/out", "type": "writes"},
            {"source": "aip://run/r/a", "target": "aip://dataset/d/in", "type": "reads"},
            {"source": "aip://run/r/b", "target": "aip://dataset/d/in", "type": "reads"},
        ],
    }  # fmt: skip
    out = io.StringIO()
    render.lineage(doc, argparse.Namespace(direction="upstream"), Out(out, io.StringIO()))
    lines = out.getvalue().splitlines()
    assert lines[2].startswith("├─ writes") and "aip://run/r/a" in lines[2]
    assert "aip://dataset/d/in" in lines[3]
    assert lines[4].strip(" │") == "(also reads  b)"
    assert sum("aip://dataset/d/in" in line for line in lines) == 1
