"""A burst: another link of the same message clicked less than a second before. Bounded."""

from __future__ import annotations

from services.feedback.tracking.bursts import RecentClicks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_another_link_of_the_same_message_within_the_second_is_a_burst() -> None:
    clock = Clock()
    recent = RecentClicks(clock=clock)
    assert not recent.clicked("m1", "https://a.example/1")
    clock.now += 0.3
    assert recent.clicked("m1", "https://a.example/2")
    clock.now += 0.3
    assert recent.clicked("m1", "https://a.example/3")


def test_the_same_link_again_or_another_message_is_not() -> None:
    clock = Clock()
    recent = RecentClicks(clock=clock)
    assert not recent.clicked("m1", "https://a.example/1")
    assert not recent.clicked("m1", "https://a.example/1")  # a double click
    assert not recent.clicked("m2", "https://a.example/2")


def test_a_second_later_it_is_a_person_choosing_another_link() -> None:
    clock = Clock()
    recent = RecentClicks(clock=clock)
    recent.clicked("m1", "https://a.example/1")
    clock.now += 1.0
    assert not recent.clicked("m1", "https://a.example/2")


def test_old_messages_are_forgotten_and_the_memory_is_bounded() -> None:
    clock = Clock()
    recent = RecentClicks(capacity=3, clock=clock)
    for i in range(10):
        recent.clicked(f"m{i}", "https://a.example/1")
    assert len(recent) == 3
    clock.now += 2
    recent.clicked("late", "https://a.example/1")
    assert len(recent) == 1
