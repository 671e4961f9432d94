"""Hydration: a queued unit -> a fresh read from its source (in worker processes) -> one
transaction of facts."""
