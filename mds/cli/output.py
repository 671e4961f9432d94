"""``-o FORMAT``: the daemon's answer as scripts take it.

``table`` is the text of ``render`` for people; ``json`` the whole answer, pretty (what
``--json`` has always printed); ``jsonl`` one compact line per record (a search's
results, a lineage's nodes), so ``| jq`` and ``| xargs`` work line by line; ``yaml`` the
whole answer as YAML (PyYAML); ``ids`` the ids the answer names, one a line
(``mds search ... -o ids | xargs -n1 mds show``). A command that draws its answer adds
formats of its own (``mds lineage -o graph|dot|mermaid``, ``drawings``).
"""

from __future__ import annotations

import json
from typing import Any

from mds.wire import JSON

from .spec import Out, Records, UsageError, whole

FORMATS = ("table", "json", "jsonl", "yaml", "ids")


def check(name: str, ids: Records | None, fmt: str) -> None:
    """Refuse, before asking the daemon, a format the answer of ``mds name`` cannot take."""
    if fmt == "ids" and ids is None:
        raise UsageError(f"`mds {name}` answers no ids; use -o json, jsonl or yaml")


def _yaml(doc: Any) -> str:
    import yaml  # deferred: PyYAML costs every other command its import time

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100).rstrip("\n")


def write(
    fmt: str,
    doc: JSON,
    out: Out,
    *,
    records: Records = whole,
    ids: Records | None = None,
    first: bool = True,
) -> None:
    """Write ``doc`` as ``fmt`` (any but ``table``): its ``records`` one a line for
    ``jsonl``, its ``ids`` for ``ids``. ``first`` is false for the second and later
    answers of a stream, which YAML separates as documents."""
    if fmt == "json":
        out.line(json.dumps(doc, indent=2, ensure_ascii=False))
    elif fmt == "jsonl":
        for record in records(doc):
            out.line(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    elif fmt == "yaml":
        out.line(("" if first else "---\n") + _yaml(doc))
    elif fmt == "ids" and ids is not None:
        for found in ids(doc):
            out.line(str(found))
    else:
        raise ValueError(f"no writer for -o {fmt}")
