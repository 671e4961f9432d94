"""Attributes: the typed vocabulary every datom is stated in.

Like Datomic, an attribute has a value type and a cardinality; ``unique`` attributes act as
external identities (lookup by value, one entity per value) and ``indexed`` ones are kept
in AVET for lookup by value. Attribute ids are small integers assigned once and persisted
by the store, so keys stay short.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ValueType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    INSTANT = "instant"
    REF = "ref"
    JSON = "json"


class Cardinality(StrEnum):
    ONE = "one"
    MANY = "many"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of the schema.

    ``unique`` implies ``indexed``: an identity must be found by its value. Refs are always
    indexed in VAET (reverse references), whatever ``indexed`` says.
    """

    name: str
    value_type: ValueType
    cardinality: Cardinality = Cardinality.ONE
    unique: bool = False
    indexed: bool = False
    doc: str = ""

    @property
    def in_avet(self) -> bool:
        return self.unique or self.indexed

    @property
    def is_ref(self) -> bool:
        return self.value_type is ValueType.REF

    @property
    def many(self) -> bool:
        return self.cardinality is Cardinality.MANY

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value_type": self.value_type.value,
            "cardinality": self.cardinality.value,
            "unique": self.unique,
            "indexed": self.indexed,
            "doc": self.doc,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Attribute:
        return cls(
            name=str(data["name"]),
            value_type=ValueType(str(data["value_type"])),
            cardinality=Cardinality(str(data["cardinality"])),
            unique=bool(data["unique"]),
            indexed=bool(data["indexed"]),
            doc=str(data.get("doc", "")),
        )

    def compatible_with(self, other: Attribute) -> bool:
        """Whether ``other`` can replace this definition without rewriting stored datoms."""
        return (
            self.value_type is other.value_type
            and self.cardinality is other.cardinality
            and self.unique == other.unique
        )


#: The built-in identity attribute: every entity's unique external id (an ``aip://`` URI).
XID = Attribute(
    "db/xid",
    ValueType.STRING,
    unique=True,
    doc="The entity's unique external id; internal integer ids never leave the store.",
)


class SchemaError(ValueError):
    """An attribute is unknown, redefined incompatibly, or given a value of the wrong type."""
