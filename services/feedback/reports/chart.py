"""A grouped bar chart's geometry, computed on the server: the report page draws it as inline
SVG (report.html.j2), with no script and nothing loaded from elsewhere.

Pure: groups of values in, bars, axis ticks and labels in SVG user units out. The scale's top
is a round number (1, 2 or 5 times a power of ten) at or above the largest value, so the ticks
read well; a chart of zeros keeps a scale of 1. Long series keep every bar and thin out the
labels under them. The page puts a table with the same figures beside the chart, so nothing is
only in the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 760.0
HEIGHT: Final = 300.0
LEFT: Final = 56.0
"""Room for the value axis's labels."""
RIGHT: Final = 12.0
TOP: Final = 16.0
BOTTOM: Final = 48.0
"""Room for the group labels."""
TICKS: Final = 5
MAX_LABELS: Final = 8
"""Labels under the groups at most (each wide enough for `week of 2026-11-23`)."""
PALETTE: Final = ("#1f5fbf", "#c4560c", "#1b7a3a", "#7b3fa0")
"""Blue, orange, green, purple: each at least 4.5:1 against white."""


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str
    """What a pointer over the bar shows (`<title>`): the group, the series and the value."""


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class GroupLabel:
    x: float
    text: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[GroupLabel]
    series: list[Series]
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    baseline: float = HEIGHT - BOTTOM


def nice_top(largest: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at or above `largest` (1 for nothing)."""
    if largest <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(largest)))
    for step in (1, 2, 5, 10):
        if step * power >= largest:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def grouped_bars(
    title: str,
    description: str,
    series: Sequence[str],
    groups: Sequence[tuple[str, Sequence[int]]],
) -> Chart:
    """A bar per series in each group (`groups`: label and one value per series)."""
    shown = [Series(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(series)]
    top = nice_top(max((v for _, values in groups for v in values), default=0))
    plot_height = HEIGHT - BOTTOM - TOP
    baseline = HEIGHT - BOTTOM
    slot = (WIDTH - RIGHT - LEFT) / max(len(groups), 1)
    gap = slot * 0.2 if len(groups) > 1 else slot * 0.3
    bar_width = (slot - gap) / max(len(series), 1)
    bars = []
    labels = []
    every = max(1, math.ceil(len(groups) / MAX_LABELS))
    for index, (label, values) in enumerate(groups):
        start = LEFT + index * slot + gap / 2
        for position, (kind, value) in enumerate(zip(shown, values, strict=True)):
            height = plot_height * value / top
            bars.append(
                Bar(
                    x=round(start + position * bar_width, 2),
                    y=round(baseline - height, 2),
                    width=round(max(bar_width - 1, 0.5), 2),
                    height=round(height, 2),
                    colour=kind.colour,
                    label=f"{label}: {value} {kind.name}",
                )
            )
        if index % every == 0:
            labels.append(GroupLabel(round(LEFT + index * slot + slot / 2, 2), label))
    ticks = [
        Tick(round(baseline - plot_height * i / TICKS, 2), _number(top * i / TICKS))
        for i in range(TICKS + 1)
    ]
    return Chart(title, description, bars, ticks, labels, shown)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
