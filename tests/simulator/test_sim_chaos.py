from __future__ import annotations

from collections import Counter

import pytest

from simulator.chaos import Chaos, EventChaos, ResponseChaos


def _events(n: int) -> list[dict[str, str]]:
    return [{"event_type": "model_updated", "model_id": f"m{i}"} for i in range(n)]


def _positions(events: list[dict[str, str]]) -> list[int]:
    return [int(e["model_id"][1:]) for e in events]


@pytest.mark.parametrize(
    "bad",
    [
        {"fail_5xx": 1.5},
        {"drop": -0.1},
        {"fail_5xx": 0.6, "rate_limit_429": 0.6},
        {"latency_ms": -1},
        {"reorder_window": 0},
    ],
)
def test_nonsense_knobs_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Chaos(**bad)  # type: ignore[arg-type]


def test_quiet_chaos_changes_nothing() -> None:
    events = _events(500)
    chaos = EventChaos(Chaos())
    assert chaos.apply(events) == events
    assert chaos.flush() == [] and not chaos.injected
    responses = ResponseChaos(Chaos())
    assert not responses.active
    assert {responses.verdict() for _ in range(200)} == {None}


def test_response_verdicts_follow_the_shares() -> None:
    responses = ResponseChaos(Chaos(fail_5xx=0.1, rate_limit_429=0.3, seed=2))
    verdicts = Counter(responses.verdict() for _ in range(5000))
    assert 400 <= verdicts[503] <= 600
    assert 1350 <= verdicts[429] <= 1650
    assert responses.injected == {"5xx": verdicts[503], "429": verdicts[429]}


def test_latency_jitters_around_its_mean() -> None:
    responses = ResponseChaos(Chaos(latency_ms=50, latency_jitter_ms=20, seed=1))
    delays = [responses.delay_s() for _ in range(2000)]
    assert min(delays) >= 0.03 and max(delays) <= 0.07
    assert 0.048 <= sum(delays) / len(delays) <= 0.052


def test_events_are_dropped() -> None:
    chaos = EventChaos(Chaos(drop=0.3, seed=1))
    out = chaos.apply(_events(2000)) + chaos.flush()
    assert 500 <= 2000 - len(out) <= 700
    assert chaos.injected["dropped"] == 2000 - len(out)
    assert _positions(out) == sorted(_positions(out))


def test_events_are_duplicated_later_with_the_same_content() -> None:
    chaos = EventChaos(Chaos(duplicate=0.2, seed=1))
    events = _events(2000)
    out = chaos.apply(events[:1000]) + chaos.apply(events[1000:]) + chaos.flush()
    counts = Counter(_positions(out))
    assert set(counts) == set(range(2000))
    assert 320 <= sum(c - 1 for c in counts.values()) == chaos.injected["duplicated"] <= 480


def test_events_are_reordered_within_a_window_and_none_lost() -> None:
    chaos = EventChaos(Chaos(reorder=0.3, reorder_window=5, seed=1))
    events = _events(2000)
    out: list[dict[str, str]] = []
    for start in range(0, 2000, 3):  # small batches, as a living stream sends them
        out += chaos.apply(events[start : start + 3])
    out += chaos.flush()
    positions = _positions(out)
    assert sorted(positions) == list(range(2000))
    late = sum(1 for i, p in enumerate(positions) if p < i)
    assert late >= 400 and 500 <= chaos.injected["reordered"] <= 700
    # late by about the window: held events also wait behind each other
    assert max(i - p for i, p in enumerate(positions)) <= 3 * 5


def test_event_chaos_is_deterministic_for_a_seed() -> None:
    knobs = Chaos(drop=0.1, duplicate=0.1, reorder=0.2, seed=3)
    a, b = EventChaos(knobs), EventChaos(knobs)
    assert a.apply(_events(300)) == b.apply(_events(300))
