"""What every shape shares: the base struct, and decoding a document with a shape."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec


class Shape(msgspec.Struct):
    """Base of every shape: unknown keys are ignored, so a client reads a newer daemon."""


S = TypeVar("S", bound=Shape)


class OffShape(ValueError):
    """A document that does not have the shape it should; the message names the field."""


def check(doc: Any, shape: type[S], what: str) -> S:
    """``doc`` decoded as ``shape``; ``OffShape`` saying which field of ``what`` is wrong."""
    try:
        return msgspec.convert(doc, shape)
    except msgspec.ValidationError as exc:
        raise OffShape(f"{what} is off its documented shape (docs/api.md): {exc}") from None
