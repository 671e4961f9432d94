"""GraphQL over the lineage graph (``POST /v1/graphql``): one query for what takes several
REST calls, at any moment. ``python -m mdsd.graphql --print-schema`` prints the schema."""

from mdsd.graphql.execute import execute
from mdsd.graphql.schema import schema, sdl

__all__ = ["execute", "schema", "sdl"]
