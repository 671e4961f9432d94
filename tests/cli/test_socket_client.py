"""The CLI's socket client in parts: the request it writes, the answers it reads, and how
``mds`` finds the one command whose parser it builds."""

from __future__ import annotations

import pytest

from mds.calls import Call, read
from mds.cli.app import build_parser, command_in
from mds.socket_client import BrokenAnswer, parse_answer, request_bytes
from mds.wire import shapes


def test_a_request_leaves_out_parameters_that_are_none_and_sends_json() -> None:
    get = request_bytes(read(shapes.Entity, "/v1/entity", id="aip://m/r/a b", as_of=None))
    assert get.startswith(b"GET /v1/entity?id=aip%3A%2F%2Fm%2Fr%2Fa+b HTTP/1.1\r\n")
    assert b"Connection: close\r\n" in get and get.endswith(b"\r\n\r\n")
    post = request_bytes(
        Call("POST", "/v1/dead-letters/redrive", shapes.Redriven, json_body={"ids": [3]})
    )
    head, _, body = post.partition(b"\r\n\r\n")
    assert body == b'{"ids": [3]}'
    assert b"Content-Type: application/json" in head and b"Content-Length: 12" in head


def test_answers_with_a_length_chunked_or_cut_short() -> None:
    answer = parse_answer(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}")
    assert (answer.status, answer.reason, answer.content) == (404, "Not Found", b"{}")
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n5\r\n": 1}\r\n0\r\n\r\n'
    )
    assert parse_answer(chunked).content == b'{"a": 1}'
    with pytest.raises(BrokenAnswer, match="cut short"):
        parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}")
    with pytest.raises(BrokenAnswer, match="not an HTTP answer"):
        parse_answer(b"SSH-2.0-OpenSSH\r\n")


@pytest.mark.parametrize(
    ("argv", "found"),
    [
        (["show", "ID"], "show"),
        (["--socket", "show", "status"], "status"),  # a socket named "show"
        (["-o", "json", "--context", "team", "search", "x"], "search"),
        (["--json", "status"], "status"),
        (["context", "list"], "context"),
        (["completion", "bash"], "completion"),
        (["--help"], None),
        (["--sock", "/s", "show", "ID"], None),  # an abbreviation: the whole parser reads it
        (["nonsense"], None),
    ],
)
def test_the_command_is_found_as_argparse_reads_it(argv: list[str], found: str | None) -> None:
    assert command_in(argv) == found


def test_one_commands_parser_reads_its_command_as_the_whole_parser_does() -> None:
    argv = ["--socket", "/s", "show", "ID", "--as-of", "2025-01-01", "-o", "json"]
    assert vars(build_parser("show").parse_args(argv)) == vars(build_parser().parse_args(argv))
