"""The answers of docs/api.md checked whole: decoded with their shape (``mds.wire.shapes``,
which holds the keys that must be present; more are welcome), then held to what a shape
cannot say (best first, counts that add up, a path that joins its ends). Shared by
tests/api (HTTP answers) and tests/cli_e2e (``mds ... --json``), which print the same
documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from mds.wire import JSON, shapes


def keys(doc: Any, required: Iterable[str], what: str) -> None:
    assert isinstance(doc, Mapping), f"{what}: not an object: {doc!r}"
    missing = set(required) - set(doc)
    assert not missing, f"{what}: missing {sorted(missing)}; has {sorted(doc)}"


def search(doc: JSON) -> None:
    scores = [hit.score for hit in msgspec.convert(doc, shapes.Search).results]
    assert scores == sorted(scores, reverse=True), "results are not best first"


def show(doc: JSON) -> None:
    for rel in msgspec.convert(doc, shapes.Entity).relationships:
        assert not rel.inferred or rel.provenance is not None, f"no provenance: {rel}"


def neighbors(doc: JSON) -> None:
    msgspec.convert(doc, shapes.Neighbors)


def lineage(doc: JSON) -> None:
    msgspec.convert(doc, shapes.Lineage)


def _groups(groups: list[Any]) -> None:
    for group in groups:
        assert group.count == len(group.entities), group


def impact(doc: JSON) -> None:
    answer = msgspec.convert(doc, shapes.Impact)
    _groups(answer.groups)
    assert answer.total == sum(g.count for g in answer.groups)


def dependencies(doc: JSON) -> None:
    _groups(msgspec.convert(doc, shapes.Dependencies).groups)


def usage(doc: JSON) -> None:
    """Either way round: a model's or instance's tests, or a test's instances and models."""
    msgspec.convert(doc, shapes.Usage)


def path(doc: JSON) -> None:
    answer = msgspec.convert(doc, shapes.Path)
    assert len(answer.edges) == len(answer.path) - 1
    assert answer.path[0].id == answer.from_ and answer.path[-1].id == answer.to


def history(doc: JSON) -> None:
    msgspec.convert(doc, shapes.History)


def graph_history(doc: JSON) -> None:
    txs = [tx.tx for tx in msgspec.convert(doc, shapes.GraphHistory).transactions]
    assert txs == sorted(txs, reverse=True), "graph history is not newest first"


def status(doc: JSON) -> None:
    msgspec.convert(doc, shapes.Status)


def dead_letters(doc: JSON) -> None:
    msgspec.convert(doc, shapes.DeadLetters)


def error(doc: JSON, code: str) -> str:
    """The message of an error document with ``code``."""
    answer = msgspec.convert(doc, shapes.Error)
    assert answer.error.code == code, doc
    return answer.error.message
