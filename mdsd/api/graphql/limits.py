"""How big a query may get, checked before it runs where possible and counted where not.

Depth, tokens and aliases are checked statically (strawberry's validation extensions).
What a query costs depends on the data (a dataset's consumers may be five or five
thousand), so the entity records a request reads are also counted against a budget.
"""

from __future__ import annotations

from collections.abc import Callable

from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.base_extension import SchemaExtension

#: the seed's query is 8 deep (``edges { node }`` counts two)
MAX_DEPTH = 12
MAX_TOKENS = 5_000
MAX_ALIASES = 50
#: distinct entity records one request may read, over all the moments it asks about
MAX_ENTITIES = 50_000
#: page size of a connection without ``first``, and the most ``first`` may ask for
PAGE = 100
MAX_PAGE = 1_000
#: distinct query texts whose parse and validation are kept (clients repeat a few queries)
CACHED_QUERIES = 256

DEPTH_MESSAGE = "exceeds maximum operation depth"


class QueryTooLarge(Exception):
    """The query read more entities than one request may."""


class Budget:
    """Counts entity records read by one request; raises once the limit is passed."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_ENTITIES if limit is None else limit
        self.used = 0
        self.exceeded = False

    def charge(self, records: int) -> None:
        self.used += records
        if self.used > self.limit:
            self.exceeded = True
            raise QueryTooLarge(
                f"query too large: it reads more than {self.limit} entities; ask for fewer "
                f"nested connections or a smaller `first` (default {PAGE})"
            )


#: strawberry's depth and alias limiters make a new rule class per instance, and the
#: validation cache keys on the rules: made once, a repeated query skips validation
_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


def extensions() -> list[Callable[[], SchemaExtension]]:
    """Factories of the static limits and the parse/validation caches (one per request)."""
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHED_QUERIES),
        lambda: AddValidationRules(_RULES),
        lambda: ValidationCache(maxsize=CACHED_QUERIES),
    ]
