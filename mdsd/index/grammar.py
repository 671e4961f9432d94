"""The search query grammar: what a user types in the search box, parsed into text and filters.

Kept apart from the index so the daemon's REST and GraphQL layers can validate a query (and
report a ``QueryError``) with no tantivy in sight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from mds.wire.model import KIND_OF, EntityType

__all__ = ["QueryError", "SearchQuery", "entity_type_of", "parse_query"]


class QueryError(ValueError):
    """A query the user must fix (an unknown ``type:``); the message says how."""


_FILTER_KEYS: Final = frozenset({"type", "owner", "tag"})
# key:"quoted value" | key:value | "quoted phrase" | word; an unclosed quote runs to the end,
# because the user is still typing it.
_TOKEN_RE: Final = re.compile(
    r'(?P<key>[A-Za-z]+):(?:"(?P<qval>[^"]*)"?|(?P<val>\S*))|"(?P<phrase>[^"]*)"?|(?P<word>\S+)'
)


def _type_key(value: str) -> str:
    return value.lower().replace("-", "").replace("_", "")


# "model", "Model", "model-instance", "ModelInstance", "model_instance" -> EntityType
_TYPE_ALIASES: Final[dict[str, EntityType]] = {
    **{_type_key(et.value): et for et in EntityType},
    **{_type_key(kind): et for et, kind in KIND_OF.items()},
}


def entity_type_of(value: str) -> EntityType | None:
    """The entity type an entity_type or aip kind names, in any case or separator style
    (``model-instance``, ``ModelInstance``, ``model_instance``); None if it names none."""
    return _TYPE_ALIASES.get(_type_key(value))


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query string: free text plus filters (AND across keys, OR within ``type``)."""

    text: str
    types: frozenset[EntityType] = frozenset()
    owners: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: a bare ``*``: every entity the filters let through, even with no filter
    everything: bool = False


def parse_query(query: str) -> SearchQuery:
    """Split ``type:model owner:alice tag:team=personalization free text`` into its parts.

    ``type`` takes an entity_type or an aip kind, case-insensitively (``type:model-instance``,
    ``type:ModelInstance``); ``owner`` an owner id, its last segment or a word of the owner's
    name; ``tag`` ``k=v`` or ``k``. Values may be quoted (``owner:"Alice Ng"``). An empty
    value (``type:`` as it is being typed) is ignored; unknown keys are free text, so a pasted
    ``aip://`` id stays searchable. A bare ``*`` matches everything. Raises ``QueryError``
    for an unknown type.
    """
    words: list[str] = []
    types: set[EntityType] = set()
    owners: list[str] = []
    tags: list[str] = []
    everything = False
    for m in _TOKEN_RE.finditer(query):
        if m["word"] == "*":
            everything = True
            continue
        key = (m["key"] or "").lower()
        if key not in _FILTER_KEYS:
            text = m["phrase"] if m["phrase"] is not None else m[0]
            words.extend(text.split())
            continue
        value = (m["qval"] if m["qval"] is not None else m["val"]).strip()
        if not value:
            continue
        if key == "type":
            et = entity_type_of(value)
            if et is None:
                known = ", ".join(sorted(KIND_OF.values()))
                raise QueryError(f"unknown type {value!r}; known: {known}")
            types.add(et)
        elif key == "owner":
            owners.append(value)
        else:
            tags.append(value)
    return SearchQuery(" ".join(words), frozenset(types), tuple(owners), tuple(tags), everything)
