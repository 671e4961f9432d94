"""How ``mds ingest`` cuts large JSON lines into parts the daemon numbers as one input."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from mds.client import json_line_parts
from mdsd.intake.events import numbered_lines, parse_events, parse_lines

EVENT = json.dumps({"event_type": "model_updated", "model_id": "m"})


def test_documents_and_arrays_are_not_cut() -> None:
    assert json_line_parts(json.dumps([{"a": 1}] * 50).encode(), 10) is None
    assert json_line_parts(b'{\n  "event_type": "model_updated"\n}', 10) is None
    assert json_line_parts(b"not json\n" + EVENT.encode(), 10) is None
    assert json_line_parts(b"not json\n" + EVENT.encode(), 10, lines=True) is not None


def test_parts_are_cut_at_lines_and_keep_their_place() -> None:
    body = "\n".join([EVENT, "", EVENT, EVENT]).encode()
    parts = json_line_parts(body, len(EVENT) + 2)
    assert parts is not None
    assert b"".join(part for part, _, _ in parts) == body
    assert [(first_line, first_index) for _, first_line, first_index in parts] == [
        (1, 0),
        (3, 1),
        (4, 2),
    ]


@given(
    st.lists(st.sampled_from([EVENT, "", "not json", '{"event_type": "nope"}']), min_size=1),
    st.integers(min_value=1, max_value=400),
)
def test_parts_judged_alone_say_what_the_whole_input_says(lines: list[str], size: int) -> None:
    body = ("\n".join([EVENT, *lines]) + "\n").encode()
    parts = json_line_parts(body, size)
    assert parts is not None
    whole = [(r.index, getattr(r, "reason", "")) for r in parse_events(body, "x.jsonl")]
    pieces = [
        (r.index, getattr(r, "reason", ""))
        for part, first_line, first_index in parts
        for r in parse_lines(numbered_lines(part, first_line), "x.jsonl", 1 << 20, first_index)
    ]
    assert pieces == whole
