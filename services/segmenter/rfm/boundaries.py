"""Score boundaries: the values at which an RFM score goes up, from a shop's quintiles or from
the fixed numbers in its `RfmSettings`, and the scoring against them.

Each dimension has four boundaries, for scores 2, 3, 4 and 5; a score is 1 plus the number of
boundaries a value passes, so a value decides its score alone and everyone with the same value
gets the same score (ties never spread over 1-5).

- Quantile boundaries are the shop's 0.2 / 0.4 / 0.6 / 0.8 quantiles, taken *inclusively*
  (the smallest value with at least that share of buyers at or under it), and a value must be
  *above* one to pass it. A group of tied values gets the quintile the group starts in: when
  70% of buyers have one order, they all get frequency 1, and two orders (ranks 70%-85%)
  gets 4. A shop whose buyers all look alike scores them all 1, never all 5.
- Fixed boundaries (`RfmSettings`) are lower bounds, reached at the value itself.
- Recency is kept as ages (seconds since the last order) under which a score holds: the
  fixed days of the settings, or, from quantiles of last order times c taken at the moment t
  the boundaries were computed, the ages t - c. An age boundary holds while
  `now < last_order_at + age`, so a score drops exactly at that instant, which is the
  `changes_at` returned: evaluating again at `changes_at` gives the lower score and a later
  `changes_at`, never the same one. Ages, not times, are held between two computations, so
  that in a shop whose order flow is steady the boundaries stay where its buyers are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from datasketches import kll_doubles_sketch

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.rfm.settings import RfmSettings

QUINTILES: Final = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True, slots=True)
class Cuts:
    """Boundaries of scores 2..5 on a value where more is better (non-decreasing)."""

    bounds: tuple[float, ...]
    strict: bool
    """True for quantile boundaries (a value must be above), False for fixed lower bounds."""

    def score(self, value: float) -> int:
        if self.strict:
            return 1 + sum(1 for bound in self.bounds if value > bound)
        return 1 + sum(1 for bound in self.bounds if value >= bound)


@dataclass(frozen=True, slots=True)
class AgeCuts:
    """Ages in seconds since the last order under which scores 2..5 hold (non-increasing)."""

    ages: tuple[float, ...]

    def score(self, last_order_at: float, now: float) -> tuple[int, float | None]:
        """The recency score at `now` and the moment it next drops (None: it is 1 already)."""
        held = [last_order_at + age for age in self.ages if now < last_order_at + age]
        return 1 + len(held), min(held, default=None)


def fixed_recency(settings: RfmSettings) -> AgeCuts:
    return AgeCuts(tuple(days * DAY_S for days in settings.recency_days))


def fixed_frequency(settings: RfmSettings) -> Cuts:
    return Cuts(tuple(float(n) for n in settings.frequency_orders), strict=False)


def fixed_monetary(settings: RfmSettings) -> Cuts:
    return Cuts(tuple(float(amount) for amount in settings.monetary), strict=False)


def _quintiles(sketch: kll_doubles_sketch) -> list[float]:
    return [float(q) for q in sketch.get_quantiles(list(QUINTILES), inclusive=True)]


def quantile_cuts(sketch: kll_doubles_sketch) -> Cuts:
    """From a sketch of a value where more is better; the sketch must not be empty."""
    return Cuts(tuple(_quintiles(sketch)), strict=True)


def quantile_recency(sketch: kll_doubles_sketch, now: float) -> AgeCuts:
    """From a sketch of last order times, as ages at `now`; the sketch must not be empty.

    At `now` itself, `last_order_at > c` (above the time quantile c) is the same as
    `now < last_order_at + (now - c)`: the same rule as `Cuts` with `strict`."""
    return AgeCuts(tuple(now - c for c in _quintiles(sketch)))
