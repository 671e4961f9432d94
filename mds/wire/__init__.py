"""What the daemon and its clients agree on, importing neither: the entity model's ids and
kinds, the answers' shapes, the one as-of grammar and the default paths."""

from typing import Any

#: the release of mds, daemon and clients alike (pyproject reads it; ``mds --version`` and
#: ``mdsd --version`` print it without asking the package metadata)
__version__ = "0.1.0"

#: a raw JSON document: an answer as it came, or a body to send
JSON = dict[str, Any]
