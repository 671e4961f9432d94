"""How big a query may get, checked before it runs where possible and counted where not.

Depth, tokens and aliases are checked statically (strawberry's validation extensions).
What a query costs depends on the data (a dataset's consumers may be five or five
thousand), so its work is also metered as it runs (``mdsd.reads.cost``).
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
#: page size of a connection without ``first``, and the most ``first`` may ask for
PAGE = 100
MAX_PAGE = 1_000
#: distinct query texts whose parse and validation are kept (clients repeat a few queries)
CACHED_QUERIES = 256

DEPTH_MESSAGE = "exceeds maximum operation depth"


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
