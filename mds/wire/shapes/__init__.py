"""The answers of the daemon's HTTP API (docs/api.md) as typed shapes, one per answer.

The daemon declares which shape each route answers with, and the client decodes every
answer with its shape: a daemon answering off its documented shape is a client error that
names the field, not a ``KeyError`` deep in the TUI. The keys every answer of a kind
carries, which its readers index, are required fields; the other keys docs/api.md lists
are optional, with a default, and read as such. Unknown keys are accepted and ignored, so
an older client reads a newer daemon (answers may add keys, never remove them).
"""

from mds.wire.shapes.base import OffShape, Shape, check
from mds.wire.shapes.operations import (
    Backup,
    DeadLetter,
    DeadLetters,
    Error,
    Ingested,
    Reconcile,
    Redriven,
    Status,
    WaitIdle,
)
from mds.wire.shapes.reads import (
    Dependencies,
    Entity,
    GraphHistory,
    GraphQL,
    History,
    Impact,
    Lineage,
    Neighbors,
    Notice,
    Path,
    Quality,
    Search,
    SimilarModels,
    Suggestions,
    Usage,
)

__all__ = [
    "Backup",
    "DeadLetter",
    "DeadLetters",
    "Dependencies",
    "Entity",
    "Error",
    "GraphHistory",
    "GraphQL",
    "History",
    "Impact",
    "Ingested",
    "Lineage",
    "Neighbors",
    "Notice",
    "OffShape",
    "Path",
    "Quality",
    "Reconcile",
    "Redriven",
    "Search",
    "Shape",
    "SimilarModels",
    "Status",
    "Suggestions",
    "Usage",
    "WaitIdle",
    "check",
]
