"""What the daemon and its clients agree on, importing neither: the entity model's ids and
kinds, the answers' shapes, the one as-of grammar and the default paths."""

from typing import Any

#: a raw JSON document: an answer as it came, or a body to send
JSON = dict[str, Any]
