"""What a failed daemon call means to the person at the keyboard.

Every worker funnels its exceptions through :func:`describe_failure`, so the wording (and
the decision "wait for reconnect" vs "this does not exist") is the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mds.client import ApiError, DaemonUnavailable


@dataclass(frozen=True)
class Failure:
    #: ``down`` (retry when the daemon is back), ``missing`` (404), ``bad`` (400) or ``error``
    kind: str
    message: str

    @property
    def severity(self) -> Literal["warning", "error"]:
        return "warning" if self.kind in ("missing", "bad") else "error"


def describe_failure(exc: BaseException, moments: str | None = None) -> Failure:
    """``moments``: the moments the views show, in words (``tui.asof.said_moments``)."""
    when = f" {moments}" if moments else ""
    if isinstance(exc, DaemonUnavailable):
        return Failure(
            "down", f"Daemon unavailable: {exc}. Reconnecting; the page reloads when it is back."
        )
    if isinstance(exc, ApiError):
        if exc.status == 404:
            # before the entity's known history, `}` steps to its first change
            later = " (} steps to it)" if exc.known_from else ""
            return Failure("missing", f"Not found{when}: {exc.message}{later}")
        if exc.status == 503:
            return Failure("down", f"The daemon is still starting: {exc.message}")
        if exc.status == 400:
            return Failure("bad", f"The daemon rejected the request: {exc.message}")
        return Failure("error", f"Daemon error {exc.status} ({exc.code}): {exc.message}")
    return Failure("error", f"Unexpected error: {type(exc).__name__}: {exc}")
