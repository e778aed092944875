"""What validating and serialising one native event costs, in microseconds (no broker needed).

The ingest request path validates every batch entry with its event model (`routes/native.py`:
the dict that `orjson` parsed, plus the envelope fields the route fills in) and the publisher
serialises it (`dump_shop_event`). This measures exactly those two calls, in-process, for the
load benchmark's storefront mix (`tests.bench.targets.native_event`) and for a few other
shapes, so a change to the models can be judged before and after:

    .venv/bin/python -m tests.bench.validation [--events 4000] [--rounds 7]

Figures are CPU time of this thread, the best round's mean (the least disturbed by whatever
else runs); they are for a human to read, nothing asserts them. Emails and phone numbers are
remembered once validated, so customer events are measured both as first seen and as seen
before.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from shared.events import EVENT_TYPES, EventEnvelope, dump_shop_event, types
from tests.bench.targets import native_event
from tests.support.payloads import order_placed, product_viewed

SHOP = "bench"


def _candidate(raw: dict[str, Any]) -> dict[str, Any]:
    """The dict `native_item` hands to the model (the API key decides shop and source)."""
    return {"specversion": "1.0", "source": f"/shops/{SHOP}/api", **raw, "shopid": SHOP}


def _customer(n: int) -> dict[str, Any]:
    return {
        "id": f"cust-{n}",
        "type": "customer.created",
        "time": "2026-11-23T10:15:00+01:00",
        "customerid": 7390498521379 + n,
        "data": {
            "email": f"buyer{n}@example.com",
            "phone": f"+316{12_000_000 + n:08d}",
            "first_name": "Anna",
            "locale": "nl-NL",
            "time_zone": "Europe/Amsterdam",
            "consent": {
                "email": {
                    "status": "granted",
                    "source": "checkout",
                    "recorded_at": "2026-11-23T10:15:00Z",
                }
            },
            "tags": ["vip"],
        },
    }


def _forget_contacts() -> None:
    """Empty the remembered emails and phone numbers (where this version has them)."""
    emails = getattr(types, "_EMAILS", None)
    if isinstance(emails, dict):
        emails.clear()
    clear = getattr(types._normalise_phone, "cache_clear", None)
    if callable(clear):
        clear()


MIXES: dict[str, tuple[Callable[[int], dict[str, Any]], Callable[[], None] | None]] = {
    "storefront mix (bench targets)": (lambda n: native_event(n, "val"), None),
    "order.placed (tests/support)": (lambda n: order_placed(f"c-{n}"), None),
    "product.viewed (tests/support)": (lambda n: product_viewed(anonymous_id=f"v-{n}"), None),
    "customer.created, contacts new": (_customer, _forget_contacts),
    "customer.created, contacts seen": (_customer, None),
}


def _best_mean_us(
    run: Callable[[], object], count: int, rounds: int, before: Callable[[], None] | None = None
) -> float:
    best = float("inf")
    for _ in range(rounds):
        if before is not None:
            before()
        gc.collect()
        start = time.thread_time()
        run()
        best = min(best, time.thread_time() - start)
    return best / count * 1e6


def measure(
    make: Callable[[int], dict[str, Any]],
    count: int,
    rounds: int,
    before: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """(validate µs, dump µs) per event for `count` events made by `make`.

    `before` runs ahead of each validation round (outside the clock).
    """
    candidates = [_candidate(make(n)) for n in range(count)]
    models = [EVENT_TYPES[c["type"]] for c in candidates]
    pairs = list(zip(models, candidates, strict=True))
    events: list[EventEnvelope] = [m.model_validate(c) for m, c in pairs]  # also warms up

    def validate() -> None:
        for model, candidate in pairs:
            model.model_validate(candidate)

    def dump() -> None:
        for event in events:
            dump_shop_event(event)

    return _best_mean_us(validate, count, rounds, before), _best_mean_us(dump, count, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{'µs per event':<34}{'validate':>10}{'dump':>8}{'total':>8}")
    for name, (make, before) in MIXES.items():
        validate_us, dump_us = measure(make, args.events, args.rounds, before)
        total = validate_us + dump_us
        print(f"{name:<34}{validate_us:>10.2f}{dump_us:>8.2f}{total:>8.2f}")


if __name__ == "__main__":
    main()
