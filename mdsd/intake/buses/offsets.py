"""Kafka offset bookkeeping: commit only what intake has made durable, per partition.

The consumer's position runs ahead of what is durable (records fetched, not yet
persisted); committing the position would lose those on a crash. The book tracks, per
assigned partition, the next offset whose records are all durable, and which of those
the group has not heard of yet.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


class OffsetBook(Generic[P]):
    def __init__(self) -> None:
        self.assigned: set[P] = set()
        #: partition -> next offset not yet durable
        self.durable: dict[P, int] = {}
        #: partition -> next offset the group has from us
        self.committed: dict[P, int] = {}

    def assign(self, partitions: Iterable[P]) -> None:
        self.assigned |= set(partitions)

    def revoke(self, partitions: Iterable[P]) -> None:
        """Forget partitions another member now owns; their offsets are its business."""
        for partition in partitions:
            self.assigned.discard(partition)
            self.durable.pop(partition, None)
            self.committed.pop(partition, None)

    def mark_durable(self, partition: P, next_offset: int) -> None:
        """Everything before ``next_offset`` on ``partition`` is in the journal.

        Ignored for a partition revoked while its batch was being persisted (the new owner
        re-reads it: a duplicate, never a loss); never moves backwards.
        """
        if partition in self.assigned and next_offset > self.durable.get(partition, -1):
            self.durable[partition] = next_offset

    def uncommitted(self, only: Iterable[P] | None = None) -> dict[P, int]:
        """Durable offsets the group has not been told, for ``only`` these partitions."""
        wanted = self.durable.keys() if only is None else set(only) & self.durable.keys()
        return {p: self.durable[p] for p in wanted if self.durable[p] != self.committed.get(p)}

    def mark_committed(self, offsets: dict[P, int]) -> None:
        for partition, offset in offsets.items():
            if partition in self.assigned:
                self.committed[partition] = offset


def lag(end: int | None, committed: int | None, position: int | None) -> int | None:
    """Records not yet durably consumed: end offset minus the committed offset (or, before
    the first commit, the position); None when the end is unknown."""
    start = committed if committed is not None else position
    if end is None or start is None:
        return None
    return max(0, end - start)
