"""The search index: as-you-type lookup by name on tantivy, kept in step with the facts.

The room's public surface is re-exported here; its modules, by job: ``grammar`` (the query
language), ``schema`` (document and field layout), ``ranking`` (tiers and priors), ``tiers``
(the tantivy query of each tier), ``ranked`` (searching the tiers: one by one, or the best
at once), ``highlight`` (marking hit names), ``search`` (the index) and ``indexer`` (feeding
it from the fact store).
"""

from mdsd.index.grammar import QueryError, SearchQuery, parse_query
from mdsd.index.indexer import Indexer
from mdsd.index.schema import SearchDoc
from mdsd.index.search import MAX_SEARCH_LIMIT, SearchHit, SearchIndex

__all__ = [
    "MAX_SEARCH_LIMIT",
    "Indexer",
    "QueryError",
    "SearchDoc",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "parse_query",
]
