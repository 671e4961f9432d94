"""The daemon's log setup, shared by its main process and its fetch workers."""

from __future__ import annotations

import logging
import sys

#: what ``[daemon] log_level`` and ``mdsd --log-level`` accept
LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(level: str, *, process: str = "") -> None:
    """Log to stderr at ``level``; ``process`` tags each line of a worker process."""
    tag = f"[{process}]" if process else ""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)-7s %(name)s{tag}: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO: one line per hydration drowns what the daemon says
    # (and cost 4% of its CPU during a backfill); failures reach our own log with context.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
