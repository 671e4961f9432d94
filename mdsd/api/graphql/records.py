"""One entity as a view sees it, read once per request and shared by every field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mds.wire.model import EntityType
from mdsd import facts as F
from store import XID


@dataclass(frozen=True, slots=True)
class Record:
    """The visible attributes of entity ``eid`` (``Db.entity``): refs are internal ids."""

    eid: int
    attrs: Mapping[str, Any]

    @property
    def xid(self) -> str:
        return str(self.attrs.get(XID.name, ""))

    @property
    def entity_type(self) -> EntityType | None:
        """None for what is not an entity (an edge record) or not visible in the view."""
        value = self.attrs.get(F.TYPE)
        try:
            return EntityType(value) if value is not None else None
        except ValueError:
            return None

    @property
    def name(self) -> str | None:
        return self.attrs.get(F.NAME)

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.name or "", self.xid)

    def get(self, attr: str) -> Any:
        return self.attrs.get(attr)

    def refs(self, attr: str) -> list[int]:
        """The targets of a ref attribute, whatever its cardinality."""
        value = self.attrs.get(attr)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def field(self, name: str) -> Any:
        """A scalar field of the source payload (``attr/{name}``)."""
        return self.attrs.get(F.attr_key(name))

    def text(self, name: str) -> str | None:
        value = self.field(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.field(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        try:
            return int(str(value)) if value is not None else None
        except ValueError:
            return None

    def instant(self, name: str) -> datetime | None:
        """A source timestamp kept as text; None if it does not parse."""
        value = self.field(name)
        if not isinstance(value, str):
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
