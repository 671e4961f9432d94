"""Reading source payloads liberally, and the fields every entity kind shares.

Sources evolve and omit things: absent or null optional fields read as None or empty,
unknown fields are ignored, numbers stand in for string ids. What cannot be read raises
``InvalidPayload`` with the path of the field (``experiments tests/7.cells[2]: ...``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from mds.wire.model import EntityType, NormalizedEntity, Rel, Tag
from mdsd.connectors.base import InvalidPayload
from mdsd.connectors.ids import HOME, ref

Scalar = str | int | float | bool | None

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?P<frac>\.\d+)?(?P<tz>[Zz]|[+-]\d{2}:\d{2})"
)


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp (a time zone is required) as an aware datetime, else None.

    Everything RFC 3339 allows is read: ``t``/``z`` in either case, a space for ``T``,
    any number of fractional digits (beyond microseconds they are cut), and a leap second
    (``23:59:60``), which reads as the last microsecond before it."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    frac = match["frac"] or ""
    clock = text[11:19]
    if clock.endswith(":60"):
        clock, frac = clock[:-2] + "59", ".999999"
    iso = text[:10] + "T" + clock + frac[:7] + match["tz"].upper()
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:  # a well-formed string naming an impossible date or time
        return None


def is_text(value: str) -> bool:
    """False for a string holding a lone surrogate (JSON allows ``"\\udcff"``): it has
    no UTF-8 form, so it can name no entity, be stored, or be put in a URL."""
    if value.isascii():  # a flag of the string: the usual case costs no encoding
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


class Payload:
    """One JSON object of a source's answer, with ``where`` naming it in errors."""

    __slots__ = ("data", "where")

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidPayload(f"{where}: expected a JSON object, got {json_type(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def id(self, *names: str) -> str:
        """A required id, from the first of ``names`` present (aliases for liberal reading)."""
        for name in names:
            if self.data.get(name) is not None:
                return self._native(name, self.data[name])
        raise InvalidPayload(f'{self.where}: missing required id field "{names[0]}"')

    def opt_id(self, name: str) -> str | None:
        value = self.data.get(name)
        return None if value is None else self._native(name, value)

    def ids(self, name: str) -> list[str]:
        """A list of ids; null entries are skipped, duplicates dropped."""
        found = (self._native(f"{name}[{i}]", v) for i, v in self._list(name) if v is not None)
        return list(dict.fromkeys(found))

    def objects(self, name: str) -> list[Payload]:
        return [
            Payload(v, f"{self.where}.{name}[{i}]") for i, v in self._list(name) if v is not None
        ]

    def timestamp(self, name: str) -> str | None:
        """An RFC 3339 field respelled the one way the rest of mds reads it (Python's
        ``isoformat``, ``Z`` for UTC, other offsets kept), or None when absent or unreadable.

        The contract promises RFC 3339, which allows spellings ``datetime.fromisoformat``
        refuses (``2025-01-06t09:30:00z``); passed on raw, such a time was silently dropped
        downstream, and with it the guard against writing a payload older than the one
        held. A time without a zone cannot be ordered against the others, so it reads as
        None too rather than as a naive datetime.
        """
        text = self.text(name)
        moment = parse_timestamp(text.strip()) if text else None
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")

    def scalar(self, name: str) -> Scalar:
        value = self.data.get(name)
        if isinstance(value, str):
            return self._unicode(name, value)
        if value is None or isinstance(value, int | float):
            return value
        raise InvalidPayload(f'{self.where}: "{name}" must be a scalar, got {json_type(value)}')

    def text(self, name: str) -> str | None:
        """A string field; numbers and booleans are accepted in their JSON spelling."""
        return self._text(name, self.data.get(name))

    def texts(self, name: str) -> list[str]:
        """A list of strings, stripped; blank and null entries are skipped, duplicates dropped."""
        found = (self._text(f"{name}[{i}]", v) for i, v in self._list(name))
        return list(dict.fromkeys(t.strip() for t in found if t and t.strip()))

    def _list(self, name: str) -> Iterable[tuple[int, Any]]:
        value = self.data.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise InvalidPayload(f'{self.where}: "{name}" must be a list, got {json_type(value)}')
        return enumerate(value)

    def _text(self, name: str, value: object) -> str | None:
        if isinstance(value, str):
            return self._unicode(name, value)
        if value is None:
            return None
        if isinstance(value, int | float):
            return json.dumps(value)
        raise InvalidPayload(f'{self.where}: "{name}" must be a string, got {json_type(value)}')

    def _unicode(self, name: str, value: str) -> str:
        if is_text(value):
            return value
        raise InvalidPayload(f'{self.where}: "{name}" is not Unicode text: {json.dumps(value)}')

    def _native(self, name: str, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return self._unicode(name, value)
        shown = json.dumps(value) if isinstance(value, str | int | float) else json_type(value)
        raise InvalidPayload(f'{self.where}: "{name}" must be a non-empty string id, got {shown}')


def tags(p: Payload) -> list[Tag]:
    """``labels`` as tags: a list of ``{"key", "value"}`` (or, liberally, a plain object)."""
    labels = p.data.get("labels")
    pairs: list[tuple[str | None, str | None]]
    if isinstance(labels, Mapping):
        as_object = Payload(labels, f"{p.where}.labels")
        pairs = [(str(k), as_object.text(str(k))) for k in labels]
    else:
        pairs = [(label.text("key"), label.text("value")) for label in p.objects("labels")]
    return [Tag(tag=key, value=value or "") for key, value in pairs if key]


def refs(entity_type: EntityType, natives: Iterable[str | None]) -> list[str]:
    return [ref(entity_type, n) for n in natives if n is not None]


def entity(
    p: Payload,
    entity_type: EntityType,
    native_id: str,
    *,
    name: str | None = None,
    attributes: Mapping[str, Scalar] | None = None,
    relationships: Mapping[Rel, list[str]] | None = None,
    mentions: list[str] | None = None,
    parent: str | None = None,
    began_at: str | None = None,
    changed_at: str | None = None,
) -> NormalizedEntity:
    """A normalized entity with the fields all payload kinds share read from ``p``: name
    (else the native id), description, owner emails, labels, the source's own timestamps (``created_at`` and
    ``updated_at``; a kind without them is dated by ``began_at`` and ``changed_at``, from
    other fields). Null attributes and empty relationship lists are left out."""
    return NormalizedEntity(
        id=ref(entity_type, native_id),
        entity_type=entity_type,
        source=HOME[entity_type],
        native_id=native_id,
        name=name or p.text("name") or native_id,
        description=p.text("description"),
        owner_emails=p.texts("owner_emails"),
        tags=tags(p),
        attributes={k: v for k, v in (attributes or {}).items() if v is not None},
        relationships={
            rel: list(dict.fromkeys(ts)) for rel, ts in (relationships or {}).items() if ts
        },
        mentions=list(dict.fromkeys(mentions or [])),
        created_at=p.timestamp("created_at"),
        updated_at=p.timestamp("updated_at"),
        began_at=began_at,
        changed_at=changed_at,
        parent=parent,
    )


_OLDEST = datetime.min.replace(tzinfo=UTC)


def newest(items: list[Payload], key: Callable[[Payload], Any]) -> Payload | None:
    """The item with the greatest ``key``; later in the list wins ties."""
    ranked = max(enumerate(items), key=lambda pair: (key(pair[1]), pair[0]), default=None)
    return None if ranked is None else ranked[1]


def by_time(field: str) -> Callable[[Payload], datetime]:
    """A ``newest`` key: the item's ``field`` timestamp; unreadable ones count as oldest."""

    def key(item: Payload) -> datetime:
        text = item.text(field)
        return (parse_timestamp(text) if text else None) or _OLDEST

    return key
