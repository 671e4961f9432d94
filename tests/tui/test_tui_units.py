"""The pure parts: as-of parsing and stepping, keymaps, commands, safe rendering, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.app import MdsApp
from tui.asof import normalize_as_of, step_tx
from tui.commands import Command, CommandError, parse_command
from tui.format import counted, fmt_time, highlighted, kind_of, tags_text
from tui.keymap import KeymapError, load_keymap, parse_keymap, unknown_ids
from tui.nav import History, Location
from tui.screens.entity import header_text, relationship_rows
from tui.screens.history import (
    attribute_words,
    cause_text,
    change_text,
    entity_rows,
    value_text,
)
from tui.sections.mlflow import metric_series, sparkline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        (" NOW ", None),
        ("2025-01-01", "2025-01-01"),
        (" 3D ", "3D"),
        ("3 d", "3 d"),
        ("TX:042", "tx:42"),  # the form the as-of bar and stepping read
    ],
)
def test_as_of_is_sent_as_typed_but_a_transaction_as_tx_n(text: str, expected: str | None) -> None:
    """Which texts are moments is tests/test_as_of_grammar.py's table, shared with the
    daemon and the CLI."""
    assert normalize_as_of(text) == expected


def test_step_tx_moves_between_versions() -> None:
    txs = [3, 7, 12]
    assert step_tx(txs, None, -1) == 7  # from live: the version before the current one
    assert step_tx(txs, 7, -1) == 3
    assert step_tx(txs, 9, -1) == 3  # as of 9 the entity shows version 7
    assert step_tx(txs, 3, -1) is None
    assert step_tx(txs, 3, 1) == 7
    assert step_tx(txs, 12, 1) is None  # the caller goes live
    assert step_tx(txs, None, 1) is None
    assert step_tx([], None, -1) is None


def test_keymap_file(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nback = "backspace"\nforward = ["]", "ctrl+n"]\n')
    assert load_keymap(path) == {"back": "backspace", "forward": "],ctrl+n"}
    assert unknown_ids({"back": "x", "nope": "y"}, MdsApp.known_binding_ids()) == ["nope"]


def test_keymap_errors(tmp_path: Path) -> None:
    with pytest.raises(KeymapError, match="not found"):
        load_keymap(tmp_path / "missing.toml")
    with pytest.raises(KeymapError, match="unknown table"):
        parse_keymap({"bindings": {}})
    with pytest.raises(KeymapError, match=r"keys\.back"):
        parse_keymap({"keys": {"back": 3}})
    broken = tmp_path / "broken.toml"
    broken.write_text("[keys\n")
    with pytest.raises(KeymapError, match=str(broken)):
        load_keymap(broken)


def test_default_keymap_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_keymap() == {}


def test_every_binding_has_an_id() -> None:
    ids = MdsApp.known_binding_ids()
    assert {
        "find",
        "command_line",
        "palette",
        "back",
        "forward",
        "lineage",
        "impact",
        "usage",
        "history",
        "as_of",
        "tx_prev",
        "tx_next",
        "reload",
        "help",
        "quit",
        "back_or_quit",
        "down",
        "up",
        "top",
        "bottom",
        "page_down",
        "page_up",
    } <= ids


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (":models", Command("kind", ("Model",))),
        ("datasets", Command("kind", ("Dataset",))),
        (":asof 2025-01-01", Command("asof", ("2025-01-01",))),
        (":asof now", Command("asof", ("now",))),
        (":q", Command("q")),
        (":quit", Command("q!")),
        (":open aip://model/registry/x", Command("open", ("aip://model/registry/x",))),
        ("aip://model/registry/x", Command("open", ("aip://model/registry/x",))),
        (":path aip://a/b/c", Command("path", ("aip://a/b/c",))),
    ],
)
def test_commands(line: str, command: Command) -> None:
    assert parse_command(line) == command


def test_unknown_command() -> None:
    with pytest.raises(CommandError, match="unknown command"):
        parse_command(":frobnicate")


def test_highlights_render_literally() -> None:
    text = highlighted("[red]x<b>rank</b>ing &amp; <b>[/]</b>", "fallback")
    assert text.plain == "[red]xranking & [/]"
    assert [text.plain[s.start : s.end] for s in text.spans] == ["rank", "[/]"]
    assert highlighted(None, "plain [b]name").plain == "plain [b]name"
    assert tags_text([{"tag": "env", "value": "[prod]"}]).plain == "env=[prod]"


def test_history_back_forward_and_truncation() -> None:
    history = History(limit=3)
    a, b, c, d = (Location("entity", f"aip://model/r/{n}") for n in "abcd")
    for loc in (a, b, c):
        history.push(loc)
    assert history.back() is b and history.back() is a and history.back() is None
    assert history.forward() is b
    history.push(d)  # drops c, the forward entry
    assert not history.can_forward and history.trail() == [a, b, d]
    history.push(Location("entity", d.id))  # the same page again: no new entry
    assert history.current is d


def test_history_rendering_helpers() -> None:
    assert (
        cause_text({"origin": "enrichment", "rule": "tested_in", "seq": 3})
        == "enrichment · rule=tested_in"
    )
    assert cause_text({"seq": 3}) == "seq=3"
    names = {"aip://user/identity/alice": "Alice Andersen"}
    assert value_text("aip://user/identity/alice", names) == "Alice Andersen"
    assert value_text("aip://user/identity/bob", names) == "bob"
    assert value_text("aip://user/identity/bob", names, "Bob Berg") == "Bob Berg"
    assert value_text({"tag": "env", "value": "prod"}, names) == "env=prod"
    assert kind_of("aip://model-instance/registry/x") == "model-instance"
    assert kind_of(None) == ""


def test_counts_take_their_noun_in_the_right_number() -> None:
    assert [counted(n, "A/B test") for n in (0, 1, 2)] == [
        "0 A/B tests",
        "1 A/B test",
        "2 A/B tests",
    ]
    assert counted(3, "entity", "entities") == "3 entities"


def test_a_past_page_counts_ages_to_the_moment_it_shows() -> None:
    entity = {
        "id": "aip://model/registry/ranking-model",
        "name": "ranking-model",
        "updated_at": "2025-01-01T23:00:00Z",
        "last_enriched_at": "2025-01-01T23:55:00Z",
        "as_of": {"tx": 7, "at": "2025-01-02T00:00:00Z"},
    }
    past = header_text(entity, past=True).plain
    assert "(1h ago then)" in past and "Enriched 5m ago then" in past
    live = header_text(entity).plain
    assert "then" not in live and "d ago" in live  # counted to now: days since 2025


def test_a_page_as_of_a_valid_time_before_its_enrichment_says_so() -> None:
    """Enrichment runs on mds's clock: as of last year it happened after the moment shown."""
    entity = {
        "id": "aip://model/registry/ranking-model",
        "updated_at": "2024-06-01T00:00:00Z",
        "last_enriched_at": "2026-12-07T14:00:00Z",
        "as_of": {"tx": 70, "at": "2026-12-07T15:00:00Z", "valid_time": "2024-12-10T23:59:59Z"},
    }
    past = header_text(entity, past=True).plain
    assert "Enriched 2026-12-07 14:00 (after this moment)" in past and " in " not in past


def test_relationships_with_the_same_name_are_told_apart_by_id() -> None:
    def cell(test: str, number: int, name: str) -> dict[str, object]:
        target = f"aip://ab-test-cell/experiments/{test}/{number}"
        return {"type": "ran_for", "direction": "out", "target": target, "target_name": name}

    v5 = cell("2", 2, "v5")
    entity = {"relationships": [cell("1", 1, "control"), cell("2", 1, "control"), v5, v5]}
    shown = [row.cells[0].plain for row in relationship_rows(entity)]
    # a cell is named with its test's number, so two tests' "control" read apart
    assert any(s.endswith("1 · control") for s in shown)
    assert any(s.endswith("2 · control") for s in shown)
    assert [s for s in shown if "v5" in s] == [" ?      2 · v5"] * 2  # one entity in two roles


def test_a_past_page_says_unknown_fields_are_not_known_then() -> None:
    """As of a moment before the source dated them, owners and description are unknown."""
    entity = {
        "id": "aip://model/registry/ranking-model",
        "as_of": {"tx": 70, "at": "2026-12-07T15:00:00Z", "valid_time": "2024-12-10T23:59:59Z"},
    }
    past = header_text(entity, past=True).plain
    assert "description not known then" in past and "Owners   — (not known then)" in past
    live = header_text(entity).plain
    assert "no description" in live and "Owners   none" in live


def test_a_metric_history_reads_as_a_series_and_a_sparkline() -> None:
    history = {
        "transactions": [
            {
                "tx": tx,
                "changes": [
                    {"attribute": "attr/metric.loss", "op": "assert", "value": value, "valid": at},
                    {"attribute": "attr/metric.loss", "op": "retract", "value": 9.0, "valid": at},
                    {"attribute": "attr/status", "op": "assert", "value": "running", "valid": at},
                ],
            }
            for tx, (at, value) in enumerate(
                [
                    ("2025-01-01T00:00:02Z", 0.5),
                    ("2025-01-01T00:00:01Z", 0.9),
                    ("2025-01-01T00:00:03Z", 0.1),
                ]
            )
        ]
    }
    assert metric_series(history) == {
        "loss": [
            ("2025-01-01T00:00:01Z", 0.9),
            ("2025-01-01T00:00:02Z", 0.5),
            ("2025-01-01T00:00:03Z", 0.1),
        ]
    }
    assert sparkline([0.9, 0.5, 0.1]) == "█▅▁"
    assert sparkline([2.0, 2.0]) == "▄▄"  # flat: the middle, not the floor
    assert sparkline([]) == ""


def test_a_change_says_what_changed_not_where_mds_keeps_it() -> None:
    assert attribute_words("attr/status") == "status"
    assert attribute_words("entity/owner_emails") == "owner_emails"
    assert attribute_words("rel/tested_in") == "tested_in →"
    assert attribute_words("db/xid") == "id"
    cell = "aip://ab-test-cell/experiments/12345/2"
    change = {"attribute": "rel/tested_in", "op": "assert", "value": cell, "target_name": "v5"}
    assert change_text(change, {}).plain == "+ tested_in →  12345 · v5"


def test_a_change_says_its_valid_time_only_when_it_is_not_the_moment_recorded() -> None:
    late = {"attribute": "attr/status", "op": "assert", "value": "failed"}
    recorded = fmt_time("2025-01-10T09:00:00Z")
    on_time = change_text({**late, "valid": "2025-01-10T09:00:00Z"}, {}, recorded)
    assert on_time.plain == "+ status  failed"
    backdated = change_text({**late, "valid": "2025-01-08T17:30:00Z"}, {}, recorded)
    assert backdated.plain == f"+ status  failed  valid from {fmt_time('2025-01-08T17:30:00Z')}"


def test_a_transactions_usual_valid_time_is_said_once_on_its_row() -> None:
    """A hydration dates most changes by the source's own time: said on the transaction's
    row, so its change rows fit 80 columns; a change holding from another moment says so."""
    source_date, other = "2024-02-01T06:00:00Z", "2025-01-01T04:00:00Z"
    changes = [
        {"attribute": f"attr/{name}", "op": "assert", "value": "x", "valid": source_date}
        for name in ("name", "status", "source")
    ] + [{"attribute": "entity/tags", "op": "assert", "value": "t=1", "valid": other}]
    tx = {
        "tx": 7,
        "at": "2026-12-07T21:18:00Z",
        "cause": {"origin": "hydration"},
        "changes": changes,
    }
    rows = entity_rows([tx], {}, None)
    head = rows[0].cells[1].plain
    assert head.endswith(f"valid from {fmt_time(source_date)}")
    said = [row.cells[1].plain for row in rows[1:]]
    assert "+ status  x" in said and "+ name  x" in said
    assert f"+ tags  t=1  valid from {fmt_time(other)}" in said


def test_a_change_too_long_for_its_room_cuts_the_value_not_what_changed() -> None:
    change = {"attribute": "attr/description", "op": "assert", "value": "x" * 200}
    late = {**change, "valid": "2025-01-08T17:30:00Z"}
    for said in (change_text(change, {}, room=40), change_text(late, {}, "", room=60)):
        assert said.cell_len <= 60 and "…" in said.plain
        assert said.plain.startswith("+ description  xxx")
    assert change_text(late, {}, "", room=60).plain.endswith(
        f"valid from {fmt_time('2025-01-08T17:30:00Z')}"
    )
    assert change_text(change, {}, room=40).cell_len == 40
    assert change_text({**change, "value": "short"}, {}, room=40).plain == "+ description  short"
