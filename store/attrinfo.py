"""An attribute as the store's hot paths use it: its id and key prefixes, computed once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from store import codec
from store.codec import U32
from store.schema import Attribute

__all__ = ["AttrInfo"]


@dataclass(frozen=True, slots=True)
class AttrInfo:
    """An attribute with what the hot paths need precomputed: its id and key prefixes."""

    id: int
    attribute: Attribute
    name: str
    many: bool
    is_ref: bool
    a4: bytes  # the id as it appears in keys
    aevt: bytes  # AEVT prefix of this attribute
    avet: bytes | None  # AVET prefix, or None when the attribute is not in AVET
    #: value -> encoded bytes, raising one of ``codec.ENCODE_ERRORS`` on a bad value
    raw_encode: Callable[[Any], bytes]

    @classmethod
    def of(cls, attribute: Attribute, attr_id: int) -> AttrInfo:
        a4 = U32.pack(attr_id)
        return cls(
            id=attr_id,
            attribute=attribute,
            name=attribute.name,
            many=attribute.many,
            is_ref=attribute.is_ref,
            a4=a4,
            aevt=codec.AEVT + a4,
            avet=codec.AVET + a4 if attribute.in_avet else None,
            raw_encode=codec.raw_encoder(attribute.value_type),
        )

    def encode(self, value: Any) -> bytes:
        """``value`` encoded; ``SchemaError`` if it is not of the attribute's type."""
        return codec.encode_value(self.attribute.value_type, value)
