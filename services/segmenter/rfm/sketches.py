"""Per-shop KLL quantile sketches of the RFM values, one value per buyer, kept by each worker
for the customers of its own partitions.

A shop's customers are spread over the partitions by a hash of their key, so a worker's share
is a random sample of the shop and its quantiles estimate the shop's. Each shop has three
Apache DataSketches KLL sketches of doubles (k=200: rank error about 1.3% at the 99th
percentile, a few KB per sketch however many buyers): the time of the last order (a time, not
an age, so that a value does not go stale as the clock moves), the orders count, and the net
revenue, the latter per currency (`OrderFacts.currency`: the shop's currency when it declares
one, else the customer's first order's) so that two currencies are never ranked together.
Doubles, not floats: a float32 would round a unix time to about two minutes.

A KLL sketch cannot forget a value, so the values are kept current in two ways:
- A rebuild on a period (and after a rebalance or a restart): a fresh `SketchSet` fed once
  with every profile of the worker's tables, then swapped in whole (`RfmBook.begin_rebuild`,
  `finish_rebuild`).
- In between, `observe(shop, facts, before)` on each changed profile adds the buyer's new
  values. The customer's stale values stay in the sketches beside them until the next rebuild
  (as do the values of customers whose partitions moved to another worker), so customers who
  changed since the rebuild weigh a little more; the buyer count stays exact because `before`
  tells a new buyer from a changed one.

Not serialised: after a restart the worker rebuilds the sketches from its recovered tables.
"""

from __future__ import annotations

from typing import Final

from datasketches import kll_doubles_sketch

from services.segmenter.profiles.facts import OrderFacts
from services.segmenter.rfm.values import RfmValues, rfm_values

DEFAULT_K: Final = 200
"""KLL accuracy parameter: the library's default, ~1.3% normalised rank error."""


class ShopSketches:
    """One shop's sketches, with how many distinct buyers fed them (overall and per currency)."""

    __slots__ = ("buyers", "buyers_in", "frequency", "k", "monetary", "recency")

    def __init__(self, k: int = DEFAULT_K) -> None:
        self.k = k
        self.recency = kll_doubles_sketch(k)
        """Last order times (unix seconds)."""
        self.frequency = kll_doubles_sketch(k)
        self.monetary: dict[str, kll_doubles_sketch] = {}
        """Per currency: net revenue."""
        self.buyers = 0
        self.buyers_in: dict[str, int] = {}

    def add(self, values: RfmValues, *, new_buyer: bool, new_in_currency: bool) -> None:
        self.recency.update(values.last_order_at)
        self.frequency.update(values.orders)
        sketch = self.monetary.get(values.currency)
        if sketch is None:
            sketch = self.monetary[values.currency] = kll_doubles_sketch(self.k)
        sketch.update(values.revenue)
        if new_buyer:
            self.buyers += 1
        if new_in_currency:
            self.buyers_in[values.currency] = self.buyers_in.get(values.currency, 0) + 1


class SketchSet:
    """The sketches of every shop this worker has buyers of; shops never share a sketch."""

    __slots__ = ("_k", "_shops")

    def __init__(self, k: int = DEFAULT_K) -> None:
        self._k = k
        self._shops: dict[str, ShopSketches] = {}

    def observe(self, shop_id: str, facts: OrderFacts, before: OrderFacts | None = None) -> bool:
        """Add a buyer's values; False when there was nothing to add.

        While rebuilding, call it once per profile without `before`. On a change, pass the
        customer's facts from before the change: a customer whose RFM values did not change
        (a page view, a message status) adds nothing, and one who was a buyer already is not
        counted twice. Without `before`, the customer counts as a new buyer. A customer who
        is no buyer (any more) adds nothing: a stale value stays until the next rebuild.
        """
        after = rfm_values(facts)
        if after is None:
            return False
        prior = rfm_values(before) if before is not None else None
        if prior == after:
            return False
        shop = self._shops.get(shop_id)
        if shop is None:
            shop = self._shops[shop_id] = ShopSketches(self._k)
        shop.add(
            after,
            new_buyer=prior is None,
            new_in_currency=prior is None or prior.currency != after.currency,
        )
        return True

    def shop(self, shop_id: str) -> ShopSketches | None:
        return self._shops.get(shop_id)

    def __len__(self) -> int:
        """How many shops have buyers here."""
        return len(self._shops)
