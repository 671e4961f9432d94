"""Thin-event validation (contract 1.1): every accepted shape and every rejection's reason."""

from __future__ import annotations

import json

import pytest

from mdsd.intake.events import Accepted, Rejected, parse_events


def one(raw: str | bytes, origin: str = "test") -> Accepted | Rejected:
    [result] = parse_events(raw.encode() if isinstance(raw, str) else raw, origin)
    return result


def reason(raw: str | bytes, origin: str = "test") -> str:
    result = one(raw, origin)
    assert isinstance(result, Rejected), result
    return result.reason


def test_one_object_is_accepted_with_its_target():
    raw = '{"event_type": "model_instance_created", "instance_id": "ranking-model-v5-20250101"}'
    assert one(raw, "socket") == Accepted(
        event_type="model_instance_created",
        ids={"instance_id": "ranking-model-v5-20250101"},
        event_id=None,
        emitted_at=None,
        source="registry",
        target="aip://model-instance/registry/ranking-model-v5-20250101",
        raw=raw,
        index=0,
        origin="socket",
    )


def test_optional_fields_and_unknown_extras():
    event = one(
        json.dumps(
            {
                "event_type": "dataset_version_created",
                "dataset_id": "playback-events",
                "version": "2025-01-01",
                "event_id": "evt-1",
                "emitted_at": "2025-01-01T12:00:00.123456789+02:00",
                "producer": "airflow",
            }
        )
    )
    assert isinstance(event, Accepted)
    assert event.ids == {"dataset_id": "playback-events", "version": "2025-01-01"}
    assert (event.event_id, event.emitted_at) == ("evt-1", "2025-01-01T12:00:00.123456789+02:00")
    assert (event.source, event.target) == ("datasets", "aip://dataset/datasets/playback-events")


def test_array_of_events():
    results = parse_events(
        b'[{"event_type": "user_updated", "user_id": "alice"}, {"event_type": "nope"}]', "x"
    )
    assert isinstance(results[0], Accepted)
    assert results[0].raw == '{"event_type": "user_updated", "user_id": "alice"}'
    assert isinstance(results[1], Rejected)
    assert results[1].index == 1
    assert results[1].reason.startswith('index 1: unknown event_type "nope"')


def test_json_lines_with_blank_lines_and_a_bad_line():
    raw = (
        b'{"event_type": "team_updated", "team_id": "ml"}\n'
        b"\n"
        b'{"event_type": "model_instance_created"}\n'
        b"   \n"
        b'{"event_type": "feature_updated", "feature_id": "f"}\r\n'
    )
    results = parse_events(raw, "inbox/batch.jsonl")
    assert [type(r) for r in results] == [Accepted, Rejected, Accepted]
    assert [r.index for r in results] == [0, 1, 2]
    assert results[1].reason == (
        'line 3: missing required field "instance_id" for event_type "model_instance_created"'
    )
    assert results[1].raw == '{"event_type": "model_instance_created"}'
    assert results[1].origin == "inbox/batch.jsonl"


def test_json_lines_keep_going_after_a_line_that_is_not_json():
    raw = b'{"event_type": "team_updated", "team_id": "ml"}\n{oops\n{"event_type": "user_updated", "user_id": "u"}'
    results = parse_events(raw, "socket")
    assert [type(r) for r in results] == [Accepted, Rejected, Accepted]
    assert results[1].reason.startswith("line 2: not JSON: Expecting property name")


def test_a_jsonl_file_whose_first_line_is_broken():
    raw = b'{"event_type": \n{"event_type": "user_updated", "user_id": "u"}\n'
    results = parse_events(raw, "/inbox/x.jsonl")
    assert [type(r) for r in results] == [Rejected, Accepted]


def test_empty_input_has_no_events():
    assert parse_events(b"", "x") == []
    assert parse_events(b"\n \n", "x") == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("not json", "not JSON: Expecting value at line 1 column 1"),
        (
            '{"event_type": "model_created",',
            "not JSON: Expecting property name enclosed in double quotes at line 1 column 32",
        ),
        ("42", "an event must be a JSON object, got number"),
        ('"model_created"', "an event must be a JSON object, got string"),
        ('{"model_id": "m"}', 'missing required field "event_type"'),
        ('{"event_type": 7, "model_id": "m"}', '"event_type" must be a string, got 7'),
        (
            '{"event_type": "model_instance_created"}',
            'missing required field "instance_id" for event_type "model_instance_created"',
        ),
        (
            '{"event_type": "model_created", "model_id": 42}',
            '"model_id" must be a non-empty string, got 42 (ids are strings: write "model_id": "42")',
        ),
        (
            '{"event_type": "model_created", "model_id": ""}',
            '"model_id" must be a non-empty string, got ""',
        ),
        (
            '{"event_type": "model_created", "model_id": "  "}',
            '"model_id" must be a non-empty string, got "  "',
        ),
        (
            '{"event_type": "model_created", "model_id": null}',
            '"model_id" must be a non-empty string, got null',
        ),
        (
            '{"event_type": "model_created", "model_id": ["m"]}',
            '"model_id" must be a non-empty string, got ["m"]',
        ),
        (
            '{"event_type": "model_created", "model_id": "m", "event_id": 5}',
            '"event_id" must be a non-empty string, got 5',
        ),
        (
            '{"event_type": "model_created", "model_id": "m", "emitted_at": "yesterday"}',
            '"emitted_at" must be an RFC 3339 time with a zone, like "2025-01-01T12:00:00Z", got "yesterday"',
        ),
        (
            '{"event_type": "model_created", "model_id": "m", "emitted_at": "2025-01-01T12:00:00"}',
            '"emitted_at" must be an RFC 3339 time with a zone, like "2025-01-01T12:00:00Z", got "2025-01-01T12:00:00"',
        ),
        (
            '{"event_type": "model_created", "model_id": "m", "emitted_at": "2025-02-30T12:00:00Z"}',
            '"emitted_at" must be an RFC 3339 time with a zone, like "2025-01-01T12:00:00Z", got "2025-02-30T12:00:00Z"',
        ),
    ],
)
def test_rejection_reasons(raw, expected):
    assert reason(raw) == expected


def test_every_problem_of_an_event_is_named_at_once():
    assert reason('{"event_type": "dataset_version_created", "dataset_id": 3, "event_id": ""}') == (
        '"dataset_id" must be a non-empty string, got 3 (ids are strings: write "dataset_id": "3"); '
        'missing required field "version" for event_type "dataset_version_created"; '
        '"event_id" must be a non-empty string, got ""'
    )


def test_unknown_event_type_suggests_and_lists_the_known_ones():
    text = reason('{"event_type": "model_instance_create", "instance_id": "i"}')
    assert text.startswith(
        'unknown event_type "model_instance_create" (did you mean "model_instance_created"?); known: '
    )
    assert "ab_test_created, ab_test_deleted" in text and text.endswith("user_updated")
    assert reason('{"event_type": "foo"}').startswith(
        'unknown event_type "foo"; known: ab_test_created'
    )


def test_not_utf8_is_rejected_with_the_offending_byte():
    result = one(b'{"event_type": "model_created", "model_id": "caf\xe9"}')
    assert isinstance(result, Rejected)
    assert result.reason == "not UTF-8: byte 0xe9 at line 1 column 49 (invalid continuation byte)"
    assert result.raw == '{"event_type": "model_created", "model_id": "caf\\xe9"}'


def test_a_line_that_is_not_utf8_sinks_only_itself():
    raw = b'{"event_type": "team_updated", "team_id": "ml"}\n{"event_type": "\xff"}\n'
    results = parse_events(raw, "socket")
    assert isinstance(results[0], Accepted)
    assert isinstance(results[1], Rejected)
    assert results[1].reason == "line 2: not UTF-8: byte 0xff at column 17 (invalid start byte)"


def test_a_line_separator_inside_a_string_does_not_split_a_json_line():
    raw = '{"event_type": "team_updated", "team_id": "a\u2028b"}\n{"event_type": "x"}'
    results = parse_events(raw.encode(), "socket")
    assert isinstance(results[0], Accepted)
    assert results[0].ids == {"team_id": "a\u2028b"}


def test_utf8_bom_and_non_ascii_ids_are_fine():
    event = one('\ufeff{"event_type": "user_updated", "user_id": "zoë"}'.encode())
    assert isinstance(event, Accepted)
    assert event.target == "aip://user/identity/zoë"


def test_a_pretty_printed_object_with_an_error_is_one_rejection():
    raw = '{\n  "event_type": "model_created",\n  "model_id": "m",,\n}\n'
    assert reason(raw).startswith(
        "not JSON: Expecting property name enclosed in double quotes at line 3"
    )


DEEP = "[" * 100_000 + "]" * 100_000
EVENT = '{"event_type": "model_created", "model_id": "m"}'


@pytest.mark.parametrize("origin", ["socket", "inbox:events.jsonl"])
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (DEEP, "unreadable JSON: nested deeper than the limit of 64 levels"),
        (
            '{"event_type": "model_created", "model_id": "m", "x": ' + DEEP + "}",
            "nested deeper than the limit of 64 levels",
        ),
        (
            '{"event_type": "model_created", "model_id": "m", "n": ' + "1" * 5000 + "}",
            "4300 digits",
        ),
    ],
    ids=["deep", "deep-inside", "huge-integer"],
)
def test_json_too_deep_or_too_big_to_decode_is_rejected_not_raised(origin, bad, expected):
    """Valid JSON the decoder cannot hold used to escape as RecursionError or ValueError:
    a 500 on the socket, and an inbox that stopped reading files for good."""
    results = parse_events(f"{EVENT}\n{bad}\n{EVENT}\n".encode(), origin)
    assert [type(r) for r in results] == [Accepted, Rejected, Accepted]
    assert results[1].reason.startswith("line 2: ") and expected in results[1].reason
    whole = one(bad, origin.replace(".jsonl", ".json"))
    assert isinstance(whole, Rejected) and expected in whole.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            r'{"event_type": "model_created", "model_id": "a\udcff"}',
            r'"model_id" must be Unicode text, got "a\udcff"',
        ),
        (
            r'{"event_type": "model_created", "model_id": "m", "event_id": "\ud800"}',
            r'"event_id" must be Unicode text, got "\ud800"',
        ),
        (r'{"event_type": "x\ud800"}', r'unknown event_type "x\ud800"; known: '),
    ],
)
def test_a_lone_surrogate_is_rejected_with_a_reason_that_can_be_stored(raw, expected):
    """JSON may escape half a UTF-16 pair; no such string can be stored, put in a URL or
    even written in a dead letter's reason, so it is refused in a reason that is UTF-8."""
    text = reason(raw)
    assert text.startswith(expected)
    text.encode()


def test_an_array_item_with_a_lone_surrogate_keeps_a_raw_text_that_can_be_stored():
    [result] = parse_events(rb'[{"event_type": "model_created", "model_id": "\udcff"}]', "socket")
    assert isinstance(result, Rejected)
    assert json.loads(result.raw) == {"event_type": "model_created", "model_id": "\udcff"}
    result.raw.encode()
