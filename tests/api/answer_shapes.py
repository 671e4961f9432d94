"""The shape each answer of the API takes, as the daemon declares it (``rest.ANSWERS``):
shared by the test of the real API (tests/api) and those that hold the CLI's and the TUI's
fake daemons to the same shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from mds.wire import shapes
from mdsd.api.rest import ANSWERS

DOCS = Path(__file__).parents[2] / "docs" / "api.md"
ROUTE = re.compile(r"^\| `(GET|POST) (/(?:api/)?v1/[^`]*)`", re.MULTILINE)


def documented() -> dict[str, str]:
    """path -> method of every route docs/api.md lists."""
    return {path: method for method, path in ROUTE.findall(DOCS.read_text())}


def shape_of(path: str, params: Mapping[str, Any]) -> type[shapes.Shape]:
    """The declared shape of this request's answer (history's by whether ``id`` is set)."""
    declared = ANSWERS[path]
    return declared[0] if len(declared) == 1 or params.get("id") else declared[1]


def decode(doc: Any, path: str, params: Mapping[str, Any], status: int = 200) -> None:
    """Decode ``doc``, an answer of ``path`` with ``status``, with its declared shape
    (``shapes.Error`` for a refusal); ``msgspec.ValidationError`` names what is off."""
    ok = status < 400 or (path == "/v1/wait-idle" and status == 408)
    msgspec.convert(doc, shape_of(path, params) if ok else shapes.Error)
