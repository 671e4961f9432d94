"""How deeply nested a JSON input may be, the same for every door.

A signed MLflow delivery nested 100,000 deep answered 500 (the decoder's recursion gave
out); a value nested a few hundred deep decodes, then recurses through every later step
that walks it. No input mds takes needs more than a handful of levels, so every door
(events, the webhook, API bodies such as GraphQL variables) refuses deeper ones with a
400 that names the limit.
"""

from __future__ import annotations

import json
from typing import Any

#: the deepest nesting accepted: an event is 1 or 2 levels, a GraphQL variables object a few
MAX_JSON_DEPTH = 64


class TooDeep(ValueError):
    """A JSON input nested deeper than ``MAX_JSON_DEPTH``."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON {self.detail(limit)}")
        self.limit = limit

    @staticmethod
    def detail(limit: int = MAX_JSON_DEPTH) -> str:
        """What is wrong, for a message that has already said it is about JSON."""
        return f"nested deeper than the limit of {limit} levels"


def loads(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads``, raising ``TooDeep`` for nesting past ``limit`` (including nesting
    so deep the decoder itself gives up) and ``json.JSONDecodeError`` for what is not JSON."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(limit) from None
    check_text_depth(text, value, limit)
    return value


def check_text_depth(text: str | bytes, value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """``check_depth`` of ``value``, decoded from ``text``; skipped when ``text`` holds too
    few ``[`` and ``{`` to nest past ``limit`` (the usual case: counting them is cheap)."""
    if isinstance(text, str):
        openers = text.count("[") + text.count("{")
    else:
        openers = text.count(b"[") + text.count(b"{")
    if openers > limit:
        check_depth(value, limit)


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ``TooDeep`` if the decoded ``value`` nests lists and objects past ``limit``.

    Iterative, and visits only containers: a flat event costs a few steps."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise TooDeep(limit)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
