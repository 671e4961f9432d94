"""Size caps on intake: no input, however large, is held whole; oversize ones are refused
with the reason (an HTTP 413, or a dead letter that keeps the input's start)."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.requests import Request

from mdsd.api.rest import TooLarge, capped_body
from mdsd.intake import doors as intake_module
from mdsd.intake.doors import Intake, read_lines
from mdsd.intake.events import OVERSIZE_KEPT_BYTES, Accepted, Rejected, parse_events
from mdsd.intake.journal import Journal

CAP = 1000
GOOD = json.dumps({"event_type": "user_updated", "user_id": "alice"}).encode()
HUGE = b'{"event_type": "user_updated", "user_id": "alice", "pad": "' + b"x" * 5000 + b'"}'


def test_an_oversize_line_is_refused_undecoded_and_its_neighbours_go_on() -> None:
    results = parse_events(b"\n".join([GOOD, HUGE, GOOD]), "socket:e.jsonl", CAP)
    assert [type(r) for r in results] == [Accepted, Rejected, Accepted]
    refused = results[1]
    assert isinstance(refused, Rejected)
    assert refused.reason.startswith(
        f"line 2: event is {len(HUGE):,} bytes, more than intake.max_event_bytes (1,000)"
    )
    assert refused.raw == HUGE[:OVERSIZE_KEPT_BYTES].decode()


def test_an_oversize_element_of_an_array_or_document_is_refused() -> None:
    array = b"[" + GOOD + b"," + HUGE + b"]"
    assert [type(r) for r in parse_events(array, "socket", CAP)] == [Accepted, Rejected]
    (alone,) = parse_events(HUGE, "socket", CAP)
    assert isinstance(alone, Rejected) and "max_event_bytes" in alone.reason
    assert isinstance(parse_events(HUGE, "socket")[0], Accepted)  # under the default cap


def test_lines_are_read_without_holding_an_oversize_one() -> None:
    lines = [GOOD, b"y" * 100_000, b"", GOOD + b"\r", b"z" * CAP, b"w" * (CAP - 1) + b"\r", GOOD]
    stream = io.BytesIO(b"\n".join(lines))
    read = list(read_lines(stream, CAP))
    assert [(n, size) for n, _, size in read] == [
        (1, len(GOOD)),
        (2, 100_000),
        (3, 0),
        (4, len(GOOD)),
        (5, CAP),
        (6, CAP - 1),
        (7, len(GOOD)),
    ]
    assert len(read[1][1]) == CAP + 1  # only the start of the long one
    assert read[0][1] == read[3][1].rstrip(b"\r") == read[6][1] == GOOD


@pytest.fixture
def scheduled() -> list[str]:
    """The units intake handed on, in order."""
    return []


@pytest.fixture
async def intake(tmp_path: Path, scheduled: list[str]) -> AsyncIterator[Intake]:
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    yield Intake(
        journal,
        lambda units, fresh: scheduled.extend(unit for _, unit, _ in units),
        {"identity"},
        max_request_bytes=10 * CAP,
        max_event_bytes=CAP,
    )
    await journal.close()


async def test_a_jsonl_inbox_file_is_streamed_in_batches_with_its_own_line_numbers(
    intake: Intake, scheduled: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_module, "INBOX_BATCH_LINES", 3)
    user = [json.dumps({"event_type": "user_updated", "user_id": f"u{i}"}) for i in range(7)]
    path = tmp_path / "big.jsonl"
    path.write_bytes("\n".join([*user[:4], "{oops", *user[4:]]).encode() + b"\n" + HUGE)
    await intake.consume_file(path)
    assert not path.exists()
    assert len(scheduled) == 7
    letters = await intake.journal.dead_letters(10)
    assert sorted(letter.reason.split(":")[0] for letter in letters) == ["line 5", "line 9"]


async def test_a_huge_jsonl_line_never_sits_in_memory(
    intake: Intake, scheduled: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(GOOD + b"\n" + b'{"pad": "')
        for _ in range(64):
            out.write(b"p" * 2**20)
        out.write(b'"}\n' + GOOD + b"\n")
    tracemalloc.start()
    try:
        await intake.consume_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak:,} bytes held for a 64 MiB line"
    (letter,) = await intake.journal.dead_letters(10)
    assert f"line 2: event is {2**26 + 11:,} bytes" in letter.reason
    assert len(scheduled) == 2


async def test_a_json_inbox_file_over_the_request_cap_is_a_dead_letter(
    intake: Intake, tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"[" + b",".join([GOOD] * 1000) + b"]")
    size = path.stat().st_size
    await intake.consume_file(path)
    assert not path.exists()
    (letter,) = await intake.journal.dead_letters(10)
    assert letter.reason.startswith(
        f"file is {size:,} bytes, more than intake.max_request_bytes (10,000)"
    )
    assert 4000 < len(letter.raw) <= OVERSIZE_KEPT_BYTES  # its start, to tell what it was
    assert letter.raw.startswith('[{"event_type"')


def request(chunks: list[bytes], headers: dict[str, str]) -> Request:
    sent = iter(chunks)

    async def receive() -> dict[str, object]:
        chunk = next(sent, None)
        if chunk is None:
            raise AssertionError("the body was read past its cap")
        return {"type": "http.request", "body": chunk, "more_body": True}

    raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "headers": raw_headers}, receive)


async def test_a_body_over_the_cap_is_refused_by_its_length_or_as_it_arrives() -> None:
    with pytest.raises(TooLarge, match=r"request body is 20,000 bytes, over intake\.max_request"):
        await capped_body(request([], {"content-length": "20000"}), 10_000)
    chunks = [b"x" * 4000] * 3  # chunked: no length said; the third chunk crosses the cap
    with pytest.raises(TooLarge, match="request body is more than 12,000 bytes"):
        await capped_body(request(chunks, {}), 10_000)
