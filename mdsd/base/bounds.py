"""Lower bounds on config numbers, checked the same way for every table.

A TOML author can write ``nan``, ``-1`` or ``0`` where the value makes no sense (a zero
interval is a busy loop, a zero timeout fails every read); each is refused with the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet


def check_minimums(
    values: object,
    minimums: Mapping[str, float],
    *,
    strict: AbstractSet[str] = frozenset(),
    table: str = "",
) -> None:
    """Raise ``ValueError`` naming the first attribute of ``values`` below its minimum, or at
    it when listed in ``strict``. ``nan`` fails too (it compares false); ``table`` prefixes
    the key (``"enrichment."``)."""
    for name, low in minimums.items():
        value = getattr(values, name)
        if not value >= low or (name in strict and value == low):
            bound = f"> {low}" if name in strict else f">= {low}"
            raise ValueError(f"{table}{name} must be {bound}, got {value!r}")
