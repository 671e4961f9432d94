"""How the unified entity model is stated as facts: the daemon's store schema.

Each entity is a store entity whose ``db/xid`` is its aip id. Declared relationships are
cardinality-many ref attributes ``rel/{type}`` on the entity that declares them; inferred
ones are the same kind of ref plus a reified edge entity carrying the provenance, so
traversal stays one hop while "why is this edge here?" stays answerable.
"""

from __future__ import annotations

from mds.wire.model import Rel
from store import Attribute, Cardinality, ValueType

TYPE = "entity/type"
NAME = "entity/name"
DESCRIPTION = "entity/description"
SOURCE = "entity/source"
NATIVE_ID = "entity/native_id"
STATUS = "entity/status"
TAGS = "entity/tags"
PARENT = "entity/parent"
MENTIONS = "entity/mentions"
OWNER_EMAILS = "entity/owner_emails"
CREATED_AT = "entity/created_at"
UPDATED_AT = "entity/updated_at"

EDGE_TYPE = "edge/type"
EDGE_SOURCE = "edge/source"
EDGE_TARGET = "edge/target"
EDGE_RULE = "edge/rule"
EDGE_PATH = "edge/path"

#: scalar source fields live under this prefix, one attribute each, so history diffs
#: show exactly which field changed
ATTR_PREFIX = "attr/"
REL_PREFIX = "rel/"

STATUS_RESOLVED = "resolved"
STATUS_STUB = "stub"
STATUS_DELETED = "deleted"


def rel_attr(rel: Rel | str) -> str:
    return f"{REL_PREFIX}{rel}"


def attr_key(name: str) -> str:
    return f"{ATTR_PREFIX}{name}"


def scalar_attribute(name: str) -> Attribute:
    """Source fields vary by source and version; JSON values keep them schema-free."""
    return Attribute(attr_key(name), ValueType.JSON, doc="a scalar field of the source payload")


SCHEMA: list[Attribute] = [
    Attribute(TYPE, ValueType.STRING, indexed=True, doc="EntityType name"),
    Attribute(NAME, ValueType.STRING, indexed=True),
    Attribute(DESCRIPTION, ValueType.STRING),
    Attribute(SOURCE, ValueType.STRING),
    Attribute(NATIVE_ID, ValueType.STRING),
    Attribute(STATUS, ValueType.STRING, indexed=True, doc="resolved | stub | deleted"),
    Attribute(TAGS, ValueType.JSON, Cardinality.MANY, doc='{"tag", "value"}'),
    Attribute(PARENT, ValueType.REF, doc="the hydration unit this entity is part of"),
    Attribute(MENTIONS, ValueType.REF, Cardinality.MANY, doc="referenced without an edge"),
    Attribute(OWNER_EMAILS, ValueType.STRING, Cardinality.MANY, doc="owners as the source said"),
    Attribute(CREATED_AT, ValueType.INSTANT),
    Attribute(UPDATED_AT, ValueType.INSTANT, doc="the source's updated_at; never goes back"),
    Attribute(EDGE_TYPE, ValueType.STRING, indexed=True),
    Attribute(EDGE_SOURCE, ValueType.REF),
    Attribute(EDGE_TARGET, ValueType.REF),
    Attribute(EDGE_RULE, ValueType.STRING),
    Attribute(EDGE_PATH, ValueType.JSON, doc="aip ids of the supporting path"),
    *(Attribute(rel_attr(rel), ValueType.REF, Cardinality.MANY) for rel in Rel),
]
