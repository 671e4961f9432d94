"""GraphQL over the lineage graph (``POST /v1/graphql``): one query for what takes several
REST calls, at any moment. ``python -m mdsd.api.graphql --print-schema`` prints the schema."""

from mdsd.api.graphql.execute import execute, execute_at, execute_on_reader
from mdsd.api.graphql.schema import schema, sdl

__all__ = ["execute", "execute_at", "execute_on_reader", "schema", "sdl"]
