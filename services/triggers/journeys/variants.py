"""A/B assignment: stable per (shop, customer, campaign, step), proportional to the weights.

SHA-256 rather than Python's `hash()`, which is salted per process and would reshuffle
customers between variants at every restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from services.triggers.campaigns.model import Variant


def bucket(shop_id: str, customer_id: str, campaign_id: str, step_id: str) -> float:
    """A number in [0, 1) that only depends on its arguments."""
    key = "\x1f".join((shop_id, customer_id, campaign_id, step_id)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def choose_variant(
    variants: Sequence[Variant], shop_id: str, customer_id: str, campaign_id: str, step_id: str
) -> Variant | None:
    if not variants:
        return None
    point = bucket(shop_id, customer_id, campaign_id, step_id) * sum(v.weight for v in variants)
    for variant in variants:
        point -= variant.weight
        if point < 0:
            return variant
    return variants[-1]
