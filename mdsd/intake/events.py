"""Validating thin events (contract 1.1) before anything else sees them.

``parse_events`` splits an input (one JSON object, a JSON array, or JSON lines) into events
and judges each on its own: an ``Accepted`` knows its source and the hydration unit it
points at; a ``Rejected`` says, in words a person can act on, where and why, and keeps the
raw text for the dead-letter queue. One bad line never sinks its neighbours, and one
larger than ``[intake] max_event_bytes`` is refused before it is decoded; ids are capped
(length, no control characters, no ``.``/``..`` path parts) and nesting is bounded.

An OpenLineage event (``eventTime`` and a ``run``, ``job`` or ``dataset``) is told apart
by its shape wherever thin events come in, judged by ``mdsd.connectors.openlineage`` and
kept whole: it is the content mds writes, with nothing to read back.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mdsd.base.jsondepth import TooDeep, check_text_depth
from mdsd.connectors import CONNECTORS, EVENT_ROUTES, openlineage
from mdsd.connectors.payload import is_text, json_type, parse_timestamp


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event: what changed (``ids``), where to read it (``source``, ``target``)."""

    event_type: str
    ids: dict[str, str]
    event_id: str | None
    emitted_at: str | None
    source: str
    #: the aip id of the hydration unit to read (contract 1.1: every event triggers a read)
    target: str
    raw: str
    #: position among the input's events, counting from 0
    index: int
    origin: str
    #: what judging it made of an event that carries its content (OpenLineage's parsed
    #: event), handed to the merge with it so that the merge does not judge it again
    content: object = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input the daemon cannot use, with the reason and the raw text to fix and redrive."""

    index: int
    reason: str
    raw: str
    origin: str


Result = Accepted | Rejected
#: The default ``[intake] max_event_bytes``. A thin event is a few hundred bytes; one of a
#: megabyte is a mistake (a payload sent where a notification belongs), not an event.
MAX_EVENT_BYTES = 2**20
#: The default ``[intake] max_request_bytes``: about 100,000 thin events. Decoded JSON takes
#: many times its size in memory, so a body is refused before it is read past this.
MAX_REQUEST_BYTES = 16 * 2**20
#: How much of an oversize event its dead letter keeps: enough to see what it was.
OVERSIZE_KEPT_BYTES = 4096
#: (line number, the line or, when longer than the cap, its start, its whole size in bytes)
NumberedLine = tuple[int, bytes, int]
#: The longest id (``model_id``, ``version``, ``event_id``, ...) an event may carry. Native
#: ids are names and keys of a few dozen characters; this leaves room for paths.
MAX_ID_CHARS = 1024
#: C0 and C1 control characters and DEL: no source names an entity with them
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_events(raw: bytes, origin: str, max_event_bytes: int = MAX_EVENT_BYTES) -> list[Result]:
    """Every event of ``raw`` in input order; blank lines are skipped.

    ``origin`` (an inbox path, ``socket``, ``socket:FILE``) travels with each result; a
    name ending in ``.jsonl`` means JSON lines, one event a line, even when every line is
    broken or the only one holds an array; an empty ``.json`` file is not JSON.
    """
    return _judge_each(_split(raw, origin, max_event_bytes), origin, max_event_bytes, 0)


def parse_lines(
    lines: Iterable[NumberedLine], origin: str, max_event_bytes: int, first_index: int
) -> list[Result]:
    """JSON lines read elsewhere (an inbox file, streamed), one event each, as
    ``parse_events`` judges a ``.jsonl`` input; indexes count from ``first_index``."""
    return _judge_each(_lines(lines, max_event_bytes), origin, max_event_bytes, first_index)


def _judge_each(
    split: Iterable[tuple[str, str, Any]], origin: str, max_event_bytes: int, first_index: int
) -> list[Result]:
    results: list[Result] = []
    for index, (where, event_text, value) in enumerate(split, start=first_index):
        prefix = f"{where}: " if where else ""
        if not isinstance(value, _Unreadable) and len(event_text) * 4 > max_event_bytes:
            size = len(event_text.encode())  # an element of an array, or a whole document
            if size > max_event_bytes:
                value = _oversize(size, max_event_bytes)
                event_text = event_text[:OVERSIZE_KEPT_BYTES]
        if not isinstance(value, _Unreadable):
            value = _bounded(event_text, value)
        if isinstance(value, _Unreadable):
            results.append(Rejected(index, prefix + value.reason, event_text, origin))
        else:
            results.append(_judge(index, prefix, event_text, value, origin))
    return results


def parse_event(text: str, origin: str) -> Result:
    """``text`` judged as exactly one event, as a dead letter is when redriven: an array
    or several lines are that one input, not events to split."""
    value = _decode(text)
    if not isinstance(value, _Unreadable):
        value = _bounded(text, value)
    if isinstance(value, _Unreadable):
        return Rejected(0, value.reason, text, origin)
    return _judge(0, "", text, value, origin)


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """Text that is not UTF-8 or not JSON, and why."""

    reason: str


def too_large(what: str, size: int, key: str, cap: int) -> str:
    """Why an input over a size cap is refused; its dead letter keeps only ``kept_start``."""
    return (
        f"{what} is {size:,} bytes, more than {key} ({cap:,}); "
        f"only its first {OVERSIZE_KEPT_BYTES:,} bytes are kept here"
    )


def kept_start(data: bytes) -> str:
    """What the dead letter of an oversize input keeps."""
    return _shown(data[:OVERSIZE_KEPT_BYTES])


def _oversize(size: int, cap: int) -> _Unreadable:
    return _Unreadable(too_large("event", size, "intake.max_event_bytes", cap))


def numbered_lines(raw: bytes, first_line: int = 1) -> Iterator[NumberedLine]:
    """The lines of ``raw``, numbered from ``first_line``. Split as bytes so a U+2028
    inside a JSON string does not end a line."""
    for number, line in enumerate(raw.splitlines(), start=first_line):
        yield number, line, len(line)


def _split(raw: bytes, origin: str, max_event_bytes: int) -> Iterator[tuple[str, str, Any]]:
    """(location for reasons, raw text, decoded value or ``_Unreadable``) per event."""
    if origin.lower().endswith(".jsonl"):  # one event per line, whatever a line holds
        yield from _lines(numbered_lines(raw), max_event_bytes)
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _looks_like_lines(raw.decode("utf-8-sig", "replace")):
            yield from _lines(numbered_lines(raw), max_event_bytes)
        else:
            yield (
                "",
                _shown(raw),
                _Unreadable(_not_utf8(exc, raw, "at line {line} column {column}")),
            )
        return
    if not text.strip():
        if origin.lower().endswith(".json"):  # zero lines are a fine .jsonl, no .json
            yield "", "", _Unreadable("not JSON: the file is empty (a .json file holds one event)")
        return
    whole = _decode(text, "at line {line} column {column}")
    if isinstance(whole, _Unreadable):
        if _looks_like_lines(text):
            yield from _lines(numbered_lines(raw), max_event_bytes)
        else:
            yield "", text.strip(), whole
        return
    if isinstance(whole, list):
        for i, value in enumerate(whole):
            yield f"index {i}", _dumps(value), value
    else:
        yield "", text.strip(), whole


def _lines(lines: Iterable[NumberedLine], max_event_bytes: int) -> Iterator[tuple[str, str, Any]]:
    """JSON lines, each on its own: one bad line never sinks its neighbours, and one over
    ``max_event_bytes`` is refused undecoded."""
    for number, line, size in lines:
        if size > max_event_bytes:
            yield f"line {number}", kept_start(line), _oversize(size, max_event_bytes)
            continue
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield (
                f"line {number}",
                _shown(line),
                _Unreadable(_not_utf8(exc, line, "at column {column}")),
            )
            continue
        yield f"line {number}", text.strip(), _decode(text)


def _looks_like_lines(text: str) -> bool:
    """JSON lines rather than one broken document: some line is an event alone."""
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and any(isinstance(_decode(line), dict) for line in lines)


def _decode(text: str, position: str = "at column {column}") -> Any:
    """The JSON value of ``text``, or why there is none. Valid JSON the decoder cannot
    hold is refused too, never raised: nesting deeper than Python's recursion limit, and
    integers of more than 4,300 digits. Each event's own depth is bounded by ``_bounded``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = position.format(line=exc.lineno, column=exc.colno)
        return _Unreadable(f"not JSON: {exc.msg} {where}")
    except RecursionError:
        return _Unreadable(f"unreadable JSON: {TooDeep.detail()}")
    except ValueError as exc:  # the integer digit limit
        return _Unreadable(f"unreadable JSON: {exc}")


def _bounded(text: str, value: Any) -> Any:
    """``value`` (one event, decoded from ``text``), or why it is refused: nested past
    ``MAX_JSON_DEPTH``, as on every door."""
    try:
        check_text_depth(text, value)
    except TooDeep as exc:
        return _Unreadable(f"unreadable JSON: {exc.detail(exc.limit)}")
    return value


def _not_utf8(exc: UnicodeDecodeError, data: bytes, position: str) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    where = position.format(line=line, column=column)
    return f"not UTF-8: byte 0x{data[exc.start]:02x} {where} ({exc.reason})"


def _shown(data: bytes) -> str:
    """Bytes that are not UTF-8, kept readable and lossless for the dead-letter queue."""
    return data.decode("utf-8", "backslashreplace").strip()


def parse_lineage_event(text: str, origin: str) -> Result:
    """``text`` judged as exactly one OpenLineage event (the body of ``POST
    /api/v1/lineage``): a thin event there is refused, with the reason."""
    value = _decode(text)
    if not isinstance(value, _Unreadable):
        value = _bounded(text, value)
    if isinstance(value, _Unreadable):
        return Rejected(0, value.reason, text, origin)
    return _judge_lineage(0, "", text, value, origin)


def _judge_lineage(index: int, prefix: str, raw: str, event: Any, origin: str) -> Result:
    """An OpenLineage event, queued whole under its unit: it is the content to write."""
    try:
        parsed = openlineage.parse_lineage(event)
    except openlineage.InvalidLineage as exc:
        return Rejected(index, f"{prefix}{exc}", raw, origin)
    kept = _dumps(event)
    return Accepted(
        event_type=openlineage.event_type(parsed),
        ids={},
        event_id=openlineage.event_id(event),
        emitted_at=None,
        source=openlineage.SOURCE,
        target=openlineage.unit_of(parsed),
        raw=kept,
        index=index,
        origin=origin,
        content=parsed,
    )


def _judge(index: int, prefix: str, raw: str, event: Any, origin: str) -> Result:
    if openlineage.looks_like_lineage(event):  # told apart from thin events by its shape
        return _judge_lineage(index, prefix, raw, event, origin)
    if not isinstance(event, dict):
        reason = f"{prefix}an event must be a JSON object, got {json_type(event)}"
        return Rejected(index, reason, raw, origin)
    event_type = event.get("event_type")
    if event_type is None:
        reason = f'{prefix}missing required field "event_type"'
        return Rejected(index, reason, raw, origin)
    if not isinstance(event_type, str) or event_type not in EVENT_ROUTES:
        return Rejected(index, prefix + _unknown_type(event_type), raw, origin)
    source, spec = EVENT_ROUTES[event_type]
    problems = [
        problem
        for field in spec.id_fields
        if (problem := _id_problem(event, field, event_type)) is not None
    ]
    event_id = event.get("event_id")
    if event_id is not None and not (isinstance(event_id, str) and event_id):
        problems.append(f'"event_id" must be a non-empty string, got {_show(event_id)}')
    elif isinstance(event_id, str) and not is_text(event_id):
        problems.append(f'"event_id" must be Unicode text, got {_show(event_id)}')
    elif isinstance(event_id, str) and len(event_id) > MAX_ID_CHARS:
        problems.append(
            f'"event_id" is {len(event_id):,} characters, more than the {MAX_ID_CHARS:,} '
            "an id may have"
        )
    emitted_at = event.get("emitted_at")
    if emitted_at is not None and not (isinstance(emitted_at, str) and parse_timestamp(emitted_at)):
        problems.append(
            '"emitted_at" must be an RFC 3339 time with a zone, like "2025-01-01T12:00:00Z", '
            f"got {_show(emitted_at)}"
        )
    if problems:
        return Rejected(index, prefix + "; ".join(problems), raw, origin)
    ids = {field: event[field] for field in spec.id_fields}
    return Accepted(
        event_type=event_type,
        ids=ids,
        event_id=event_id,
        emitted_at=emitted_at,
        source=source,
        target=CONNECTORS[source].target_of(event_type, ids),
        raw=_kept(event_type, ids, event_id, emitted_at),
        index=index,
        origin=origin,
    )


def _kept(
    event_type: str, ids: dict[str, str], event_id: str | None, emitted_at: str | None
) -> str:
    """What the journal keeps of an accepted event: the fields mds uses, not the others
    (unknown fields are ignored; a 210 MB file of padded events grew the journal 95 MB)."""
    kept: dict[str, str] = {"event_type": event_type, **ids}
    if event_id is not None:
        kept["event_id"] = event_id
    if emitted_at is not None:
        kept["emitted_at"] = emitted_at
    return _dumps(kept)


def _unknown_type(event_type: object) -> str:
    if not isinstance(event_type, str):
        return f'"event_type" must be a string, got {_show(event_type)}'
    close = difflib.get_close_matches(event_type, EVENT_ROUTES, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    known = ", ".join(sorted(EVENT_ROUTES))
    return f"unknown event_type {_show(event_type)}{hint}; known: {known}"


def _id_problem(event: dict[str, Any], field: str, event_type: str) -> str | None:
    if field not in event:
        return f'missing required field "{field}" for event_type "{event_type}"'
    value = event[field]
    if isinstance(value, str) and value.strip():
        if not is_text(value):
            return f'"{field}" must be Unicode text, got {_show(value)}'
        return _id_shape_problem(field, value)
    problem = f'"{field}" must be a non-empty string, got {_show(value)}'
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem += f' (ids are strings: write "{field}": "{value}")'
    return problem


def _id_shape_problem(field: str, value: str) -> str | None:
    """Why the id ``value`` cannot name an entity, or None. A 100,000-character id passed
    here and failed deep in hydration with a traceback and 200 KB of log; ``.`` and ``..``
    were read as path segments against the source (``.`` fetched the model listing)."""
    if len(value) > MAX_ID_CHARS:
        return (
            f'"{field}" is {len(value):,} characters, more than the {MAX_ID_CHARS:,} an id may have'
        )
    control = _CONTROL.search(value)
    if control:
        return (
            f'"{field}" must not hold control characters, got U+{ord(control.group()):04X} '
            f"at character {control.start() + 1}"
        )
    if any(segment in (".", "..") for segment in value.split("/")):
        return f'"{field}" must not be "." or ".." or have them as /-separated parts, got {_show(value)}'
    return None


def _dumps(value: object) -> str:
    """``value`` as JSON text that can be stored: escaped only where it must be."""
    text = json.dumps(value, ensure_ascii=False)
    return text if is_text(text) else json.dumps(value)


def _show(value: object) -> str:
    """A value as it appeared in JSON, shortened for a one-line reason."""
    shown = _dumps(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
