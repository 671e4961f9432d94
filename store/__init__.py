"""mds's fact store: an immutable, time-travelling log of datoms on RocksDB.

Knows nothing of the daemon or any screen. The public surface is re-exported here.
"""

from store.db import Db, Traversal
from store.schema import XID, Attribute, Cardinality, SchemaError, ValueType
from store.store import FactStore, ReplayGap, StoreClosed
from store.tx import (
    Add,
    Created,
    Datom,
    EntityRef,
    Interpose,
    Op,
    Replace,
    Retract,
    TxChanges,
    TxReport,
)

__all__ = [
    "XID",
    "Add",
    "Attribute",
    "Cardinality",
    "Created",
    "Datom",
    "Db",
    "EntityRef",
    "FactStore",
    "Interpose",
    "Op",
    "Replace",
    "ReplayGap",
    "Retract",
    "SchemaError",
    "StoreClosed",
    "Traversal",
    "TxChanges",
    "TxReport",
    "ValueType",
]
