"""The chart's geometry: a round scale, bars in proportion, every value in a bar's title,
and long series keeping every bar while thinning their labels."""

from __future__ import annotations

import pytest

from services.feedback.reports.chart import HEIGHT, MAX_LABELS, grouped_bars, nice_top


@pytest.mark.parametrize(
    ("largest", "top"),
    [
        (0, 1),
        (1, 1),
        (3, 5),
        (5, 5),
        (7, 10),
        (10, 10),
        (11, 20),
        (99, 100),
        (101, 200),
        (4321, 5000),
    ],
)
def test_the_scale_tops_out_at_a_round_number(largest: int, top: int) -> None:
    assert nice_top(largest) == top


def test_bars_are_in_proportion_and_say_their_value() -> None:
    chart = grouped_bars("t", "d", ["sent", "opened"], [("cart", [10, 5]), ("welcome", [2, 0])])
    sent, opened, welcome_sent, welcome_opened = chart.bars
    assert sent.height == pytest.approx(2 * opened.height)
    assert sent.height == pytest.approx(5 * welcome_sent.height)
    assert welcome_opened.height == 0
    assert all(bar.y + bar.height == pytest.approx(chart.baseline) for bar in chart.bars)
    assert sent.y == pytest.approx(chart.top)  # 10 is the scale's top
    assert [b.label for b in chart.bars] == [
        "cart: 10 sent",
        "cart: 5 opened",
        "welcome: 2 sent",
        "welcome: 0 opened",
    ]
    assert sent.colour != opened.colour and sent.colour == welcome_sent.colour
    assert [t.label for t in chart.ticks] == ["0", "2", "4", "6", "8", "10"]


def test_a_chart_of_nothing_still_draws_a_scale() -> None:
    chart = grouped_bars("t", "d", ["sent"], [])
    assert chart.bars == [] and chart.ticks[-1].label == "1"
    assert chart.height == HEIGHT


def test_a_long_series_keeps_every_bar_and_thins_its_labels() -> None:
    groups = [(f"day {i}", [i, 0, 0]) for i in range(366)]
    chart = grouped_bars("t", "d", ["sent", "opened", "clicked"], groups)
    assert len(chart.bars) == 3 * 366
    assert len(chart.labels) <= MAX_LABELS + 1
    assert all(bar.x + bar.width <= chart.right for bar in chart.bars)
