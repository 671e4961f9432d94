"""The connectors' response cache holds at most its bound, and lets expired reads go."""

from __future__ import annotations

from mdsd.connectors.guards import MISS, TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_never_holds_more_than_its_bound() -> None:
    cache: TtlCache[int, str] = TtlCache(60.0, 100, Clock())
    for key in range(10_000):
        cache.put(key, "x" * 100)
        assert len(cache) <= 100
    assert cache.get(9_999) == "x" * 100 and cache.get(0) is MISS


def test_a_put_lets_the_expired_entries_of_a_burst_go() -> None:
    clock = Clock()
    cache: TtlCache[int, str] = TtlCache(5.0, 10_000, clock)
    for key in range(5_000):  # a burst of reads
        cache.put(key, "body")
    clock.now = 6.0  # it is over, every entry has expired
    cache.put(-1, "next read")
    assert len(cache) == 1


def test_zero_entries_or_ttl_caches_nothing() -> None:
    for cache in (TtlCache(5.0, 0, Clock()), TtlCache(0.0, 10, Clock())):
        cache.put(1, "x")
        assert len(cache) == 0 and cache.get(1) is MISS
