"""The in-memory due-timer index: ordering, moves, cancellations, bounded garbage."""

from __future__ import annotations

from shared.timer_index import TimerIndex


def test_pops_only_due_keys_earliest_first() -> None:
    index = TimerIndex()
    index.set("b", 20.0)
    index.set("a", 10.0)
    index.set("c", 30.0)
    assert index.pop_due(25.0, limit=10) == [("a", 10.0), ("b", 20.0)]
    assert len(index) == 1
    assert index.next_due() == 30.0


def test_a_moved_timer_fires_once_at_its_new_time() -> None:
    index = TimerIndex()
    index.set("a", 10.0)
    index.set("a", 50.0)
    assert index.pop_due(20.0, limit=10) == []
    assert index.pop_due(60.0, limit=10) == [("a", 50.0)]
    assert index.pop_due(60.0, limit=10) == []


def test_a_cancelled_timer_never_fires() -> None:
    index = TimerIndex()
    index.set("a", 10.0)
    index.set("a", None)
    assert index.pop_due(100.0, limit=10) == []
    assert index.next_due() is None
    assert len(index) == 0


def test_limit_leaves_the_rest_for_the_next_tick() -> None:
    index = TimerIndex()
    for n in range(5):
        index.set(f"k{n}", float(n))
    assert [key for key, _ in index.pop_due(10.0, limit=2)] == ["k0", "k1"]
    assert [key for key, _ in index.pop_due(10.0, limit=10)] == ["k2", "k3", "k4"]


def test_superseded_entries_are_compacted() -> None:
    index = TimerIndex()
    for n in range(10_000):
        index.set("same", float(n))
    assert len(index) == 1
    assert len(index._seconds) < 2_000
    assert index.pop_due(1e9, limit=10) == [("same", 9_999.0)]


def test_a_second_is_emptied_only_of_what_is_due() -> None:
    index = TimerIndex()
    index.set("early", 100.2)
    index.set("late", 100.8)
    assert index.pop_due(100.5, limit=10) == [("early", 100.2)]
    assert index.next_due() == 100.8
    assert index.pop_due(101.0, limit=10) == [("late", 100.8)]
    assert index.next_due() is None


def test_a_tick_looks_only_at_due_seconds() -> None:
    """Pending timers far in the future are never visited by a tick."""
    index = TimerIndex()
    for n in range(50_000):
        index.set(f"future-{n}", 1e9 + n)
    index.set("due", 10.0)
    assert index.pop_due(20.0, limit=100) == [("due", 10.0)]
    assert len(index) == 50_000
