"""Customer profiles for the segmenter's tick benchmark, built directly as `Profile` structs
(a million of them through events would take longer than the measure).

`customer` makes an ordinary customer of a shop at a moment: no orders or a few over the last
two years, what they viewed and bought, messages and engagement, consent, recent event ids.
`about_to_change` makes one whose answer to a shipped segment changes by time alone at a
given moment, in one of the ways the shipped segments and the lifecycle move:

- `first-order-90d`: one order, 90 days old at that moment: enters at-risk (the lifecycle's
  default), lapsed (win-back) and inactive-90d;
- `repeat-at-risk`: orders every I days, the last 1.5 x I old: enters at-risk;
- `repeat-lapsed`: the same, the last 2 x I old: enters lapsed (win-back);
- `email-quiet-90d`: an email consent whose last email engagement turns 90 days old: leaves
  email-engaged.

Neither is evaluated here: the benchmark stores them through the worker's own processor,
which sets their memberships and timers (see ticks.py).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Final

from services.segmenter.profiles.model import Answer, Engagement, Order, Profile, Tally
from tests.bench.segmenter.workload import BRANDS
from tests.bench.triggers.workload import CATEGORIES

DAY: Final = 86_400.0
KINDS: Final = ("first-order-90d", "repeat-at-risk", "repeat-lapsed", "email-quiet-90d")
"""How a profile of `about_to_change` changes segment (see the module's docstring)."""
KIND_WEIGHTS: Final = (4, 2, 2, 2)


def _orders(customer_id: str, times: list[float], rng: random.Random) -> list[Order]:
    return [
        Order(
            order_id=f"order-{customer_id}-{n}",
            at=at,
            total=Decimal(f"{rng.randint(8, 240)}.{rng.randint(0, 99):02d}"),
            currency="EUR",
        )
        for n, at in enumerate(sorted(times), start=1)
    ]


def _tallies(names: tuple[str, ...], rng: random.Random, now: float, most: int) -> dict[str, Tally]:
    chosen = rng.sample(names, rng.randint(0, min(most, len(names))))
    return {
        name: Tally(count=rng.randint(1, 12), last_at=now - rng.uniform(0, 120) * DAY)
        for name in sorted(chosen)
    }


def _engagement(rng: random.Random, now: float, recent: bool) -> Engagement:
    sent = rng.randint(0, 25)
    delivered = max(0, sent - rng.randint(0, 2))
    opened = rng.randint(0, delivered)
    clicked = rng.randint(0, opened)
    engaged = opened or clicked
    since = rng.uniform(0, 30 if recent else 300) * DAY
    return Engagement(
        sent=sent,
        delivered=delivered,
        opened=opened,
        clicked=clicked,
        last_engaged_at=now - since if engaged else None,
    )


def customer(
    rng: random.Random, shop_id: str, customer_id: str, now: float, *, recent: bool = False
) -> Profile:
    """An ordinary customer at `now`. `recent`: every time-based answer is far from changing
    (engagement within 30 days, the last order within 20), for `about_to_change` to set one."""
    count = rng.choices((0, 1, 2, 3, 4, 6, 9), weights=(30, 28, 15, 10, 7, 6, 4))[0]
    last = now - rng.uniform(1, 20 if recent else 700) * DAY
    gap = rng.uniform(12, 80) * DAY
    times = [last - n * gap * rng.uniform(0.7, 1.3) for n in range(count)]
    orders = _orders(customer_id, times, rng)
    bought = {
        name: Tally(count=rng.randint(1, max(1, count)), last_at=last)
        for name in sorted(rng.sample(CATEGORIES, min(count, 3)))
    }
    seen_from = min(times, default=last) - rng.uniform(1, 30) * DAY
    today = int(now // DAY)
    activity = {
        "product.viewed": {today - rng.randint(0, 60): rng.randint(1, 6) for _ in range(5)},
        "cart.updated": {today - rng.randint(0, 60): 1 for _ in range(2)},
    }
    if orders:
        activity["order.placed"] = {int(o.at // DAY): 1 for o in orders[-3:]}
    engagement = {"email": _engagement(rng, now, recent)}
    if rng.random() < 0.3:
        engagement["sms"] = _engagement(rng, now, recent)
    consented = {"email": rng.random() < 0.8, "sms": rng.random() < 0.3}
    nps = None
    if rng.random() < 0.2:
        nps = Answer(score=rng.randint(0, 10), at=now - rng.uniform(1, 200) * DAY, event_id="n")
    return Profile(
        shop_id=shop_id,
        customer_id=customer_id,
        first_seen_at=seen_from,
        last_activity_at=now - rng.uniform(0, 10) * DAY,
        orders=orders,
        categories_bought=bought,
        categories_viewed=_tallies(CATEGORIES, rng, now, 5),
        brands_bought=_tallies(BRANDS, rng, now, 2) if orders else {},
        brands_viewed=_tallies(BRANDS, rng, now, 4),
        activity=activity,
        engagement=engagement,
        consent=consented,
        consent_at=dict.fromkeys(consented, seen_from),
        email=True,
        phone=consented["sms"],
        locale="nl-NL",
        time_zone="Europe/Amsterdam",
        nps=nps,
        seen_ids=[f"evt-{customer_id}-{n}" for n in range(rng.randint(8, 40))],
    )


def about_to_change(
    rng: random.Random, shop_id: str, customer_id: str, kind: str, change_at: float
) -> Profile:
    """A customer whose answer to a shipped segment changes at `change_at` by time alone
    (`kind`: one of KINDS); nothing else about them changes for weeks around it."""
    profile = customer(rng, shop_id, customer_id, change_at, recent=True)
    if kind == "first-order-90d":
        profile.orders = _orders(customer_id, [change_at - 90 * DAY], rng)
    elif kind in ("repeat-at-risk", "repeat-lapsed"):
        interval = rng.randint(20, 60) * DAY
        last = change_at - (1.5 if kind == "repeat-at-risk" else 2.0) * interval
        profile.orders = _orders(customer_id, [last - n * interval for n in range(3)], rng)
    elif kind == "email-quiet-90d":
        quiet = profile.engagement["email"]
        profile.engagement = {
            "email": Engagement(quiet.sent, quiet.delivered, 1, 0, 0, change_at - 90 * DAY)
        }
        profile.consent = {**profile.consent, "email": True}
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return profile
