"""The strawberry schema, and the error codes its answers carry.

Every error in an answer has ``extensions.code`` so a script can tell "no such entity"
from "fix your query" without parsing messages.
"""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from mds.wire.moments import AsOfError
from mdsd.api.graphql import kinds  # noqa: F401  (registers every kind)
from mdsd.api.graphql.limits import DEPTH_MESSAGE, extensions
from mdsd.api.graphql.root import Query
from mdsd.index import QueryError
from mdsd.reads.cost import TooCostly
from mdsd.reads.queries import BadQuery, NotFound

_CODES: tuple[tuple[tuple[type[Exception], ...], str], ...] = (
    ((NotFound,), "NOT_FOUND"),
    ((TooCostly,), "QUERY_TOO_LARGE"),
    ((BadQuery, AsOfError, QueryError), "BAD_REQUEST"),
)


def error_code(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:
        return "QUERY_TOO_DEEP" if DEPTH_MESSAGE in error.message else "GRAPHQL_VALIDATION_FAILED"
    for causes, code in _CODES:
        if isinstance(original, causes):
            return code
    return "INTERNAL_ERROR"


class GraphSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only what is our fault; the rest is answered to the caller."""
        for error in errors:
            if error_code(error) == "INTERNAL_ERROR":
                StrawberryLogger.error(error, execution_context)


schema = GraphSchema(query=Query, extensions=extensions())


def sdl() -> str:
    """The schema in SDL, as checked in at docs/schema.graphql."""
    return schema.as_str() + "\n"
