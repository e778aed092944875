"""RfmBook: a worker's RFM scores, from per-shop quantile sketches of its own buyers.

Per shop, the quintile boundaries (see `boundaries`) come from the sketches (`sketches`) once
the book holds at least `RfmSettings.min_customers` distinct buyers of that shop (for
monetary: buyers in that currency); below that, from the fixed boundaries of the settings, so
a shop with a handful of customers gets sensible scores and nothing is ever divided by a count.

Boundaries are cached per shop, not computed per call: they are computed at the first
`scores` call for the shop after a rebuild (`finish_rebuild` drops the cache), and again once
`refresh_every` seconds (one hour by default) of the callers' `now` have passed since, so that
buyers fed incrementally (`observe`) count within the hour. So a score can move in three ways:
an event that changes the customer's values, time passing a recency boundary (the returned
`changes_at`, exact, in both modes), and the boundaries moving at a refresh or rebuild (not
announced: a score kept elsewhere follows at the customer's next event or `changes_at`).

The worker's loop: `book.observe(shop, facts, before)` for each profile whose facts changed,
then `book.scores(...)`; on a period, `fresh = book.begin_rebuild()`, `fresh.observe(shop,
facts)` for every profile in its tables, `book.finish_rebuild()`. Changes observed while a
rebuild is under way go to both sets, so a profile changed after the rebuild read it is not
lost. Nothing here is serialised: after a restart the book is rebuilt from the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from services.segmenter.profiles.facts import OrderFacts
from services.segmenter.rfm.boundaries import (
    AgeCuts,
    Cuts,
    fixed_frequency,
    fixed_monetary,
    fixed_recency,
    quantile_cuts,
    quantile_recency,
)
from services.segmenter.rfm.scores import RfmScores
from services.segmenter.rfm.settings import RfmSettings
from services.segmenter.rfm.sketches import DEFAULT_K, SketchSet
from services.segmenter.rfm.values import rfm_values

DEFAULT_REFRESH_S: Final = 3_600.0


@dataclass(frozen=True, slots=True)
class ShopQuantiles:
    """A shop's cached quantile boundaries; None (or a missing currency): too few buyers,
    the fixed boundaries apply."""

    computed_at: float
    min_customers: int
    recency: AgeCuts | None = None
    frequency: Cuts | None = None
    monetary: dict[str, Cuts] = field(default_factory=dict)


class RfmBook:
    def __init__(self, refresh_every: float = DEFAULT_REFRESH_S, k: int = DEFAULT_K) -> None:
        if refresh_every <= 0:
            raise ValueError("refresh_every must be positive")
        self.refresh_every = refresh_every
        self._k = k
        self._live = SketchSet(k)
        self._pending: SketchSet | None = None
        self._cache: dict[str, ShopQuantiles] = {}

    # -- feeding

    def observe(self, shop_id: str, facts: OrderFacts, before: OrderFacts | None = None) -> None:
        """A profile changed: add its buyer's new values (see `SketchSet.observe` for
        `before`). Cached boundaries do not move until the next refresh."""
        self._live.observe(shop_id, facts, before)
        if self._pending is not None:
            self._pending.observe(shop_id, facts, before)

    def begin_rebuild(self) -> SketchSet:
        """A fresh, empty set to feed with every profile (`observe(shop, facts)`, no
        `before`); the live one keeps scoring until `finish_rebuild`. Beginning again drops a
        rebuild left unfinished."""
        self._pending = SketchSet(self._k)
        return self._pending

    def finish_rebuild(self) -> None:
        """Swap the rebuilt set in; every shop's boundaries are recomputed at its next call."""
        if self._pending is None:
            raise RuntimeError("finish_rebuild without begin_rebuild")
        self._live, self._pending = self._pending, None
        self._cache.clear()

    def abandon_rebuild(self) -> None:
        self._pending = None

    @property
    def rebuilding(self) -> bool:
        return self._pending is not None

    def buyers(self, shop_id: str) -> int:
        """Distinct buyers of the shop the live sketches hold."""
        shop = self._live.shop(shop_id)
        return shop.buyers if shop is not None else 0

    # -- scoring

    def quantiles(self, shop_id: str, now: float, settings: RfmSettings) -> ShopQuantiles:
        """The shop's cached quantile boundaries, recomputed when stale."""
        cached = self._cache.get(shop_id)
        if (
            cached is not None
            and cached.min_customers == settings.min_customers
            and now - cached.computed_at < self.refresh_every
        ):
            return cached
        fresh = self._compute(shop_id, now, settings.min_customers)
        self._cache[shop_id] = fresh
        return fresh

    def scores(
        self, shop_id: str, facts: OrderFacts, now: float, settings: RfmSettings
    ) -> tuple[RfmScores | None, float | None]:
        """The customer's scores at `now` (None without an order) and the moment they next
        change by time alone (the recency score dropping; None: not by time)."""
        values = rfm_values(facts)
        if values is None:
            return None, None
        shop = self.quantiles(shop_id, now, settings)
        recency = shop.recency or fixed_recency(settings)
        frequency = shop.frequency or fixed_frequency(settings)
        monetary = shop.monetary.get(values.currency) or fixed_monetary(settings)
        r, changes_at = recency.score(values.last_order_at, now)
        scores = RfmScores(r=r, f=frequency.score(values.orders), m=monetary.score(values.revenue))
        return scores, changes_at

    def _compute(self, shop_id: str, now: float, min_customers: int) -> ShopQuantiles:
        shop = self._live.shop(shop_id)
        if shop is None:
            return ShopQuantiles(computed_at=now, min_customers=min_customers)
        enough = shop.buyers >= min_customers
        return ShopQuantiles(
            computed_at=now,
            min_customers=min_customers,
            recency=quantile_recency(shop.recency, now) if enough else None,
            frequency=quantile_cuts(shop.frequency) if enough else None,
            monetary={
                currency: quantile_cuts(shop.monetary[currency])
                for currency, count in shop.buyers_in.items()
                if count >= min_customers
            },
        )
