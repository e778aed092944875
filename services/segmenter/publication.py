"""The profile analysts read on `customer.profiles.v1`, built from the stored profile.

`view` builds the document; `digest` fingerprints what in it is news, so that the processor
publishes only when that changed (counters alone do not; activity counts to the UTC day);
`record` writes the record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from services.segmenter.lifecycle import Stage
from services.segmenter.profiles.facts import OrderFacts
from services.segmenter.profiles.model import Profile, Tally
from services.segmenter.rfm.scores import RfmScores


def _time(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _money(amount: Decimal, currency: str | None) -> dict[str, str] | None:
    return None if currency is None else {"amount": str(amount), "currency": currency}


def _tallies(tallies: Mapping[str, Tally]) -> list[dict[str, Any]]:
    ordered = sorted(tallies.items(), key=lambda item: (-item[1].count, item[0]))
    return [{"name": n, "count": t.count, "last_at": _time(t.last_at)} for n, t in ordered]


def view(
    profile: Profile, facts: OrderFacts, stage: Stage, rfm: RfmScores | None
) -> dict[str, Any]:
    """The `data` of a `customer.profile` record (shared/events/profiles.py), as JSON values."""
    interval = facts.repeat_interval_days
    last_active = profile.last_activity_at
    return {
        "orders": facts.orders,
        "revenue": _money(facts.revenue, facts.currency),
        "average_order_value": None if facts.aov is None else _money(facts.aov, facts.currency),
        "other_revenue": [_money(a, c) for c, a in sorted(facts.other_revenue.items())],
        "first_order_at": _time(facts.first_order_at),
        "last_order_at": _time(facts.last_order_at),
        "repeat_interval_days": None if interval is None else str(round(Decimal(interval), 2)),
        "repeat_interval_gaps": facts.repeat_interval_gaps,
        "lifecycle": stage.value,
        "rfm": None if rfm is None else {"r": rfm.r, "f": rfm.f, "m": rfm.m},
        "categories_bought": _tallies(profile.categories_bought),
        "categories_viewed": _tallies(profile.categories_viewed),
        "brands_bought": _tallies(profile.brands_bought),
        "brands_viewed": _tallies(profile.brands_viewed),
        "last_active_on": (
            None
            if last_active is None
            else datetime.fromtimestamp(last_active, UTC).date().isoformat()
        ),
        "engagement": {
            channel: {
                "sent": e.sent,
                "delivered": e.delivered,
                "opened": e.opened,
                "clicked": e.clicked,
                "replied": e.replied,
                "last_engaged_at": _time(e.last_engaged_at),
            }
            for channel, e in sorted(profile.engagement.items())
        },
        "consent": dict(sorted(profile.consent.items())),
        "has_email": profile.email,
        "has_phone": profile.phone,
        "locale": profile.locale,
        "time_zone": profile.time_zone,
        "birthday": profile.birthday,
        "nps": None
        if profile.nps is None
        else {"score": profile.nps.score, "at": _time(profile.nps.at)},
        "csat": None
        if profile.csat is None
        else {"score": profile.csat.score, "at": _time(profile.csat.at)},
        "segments": [
            {"segment_id": s, "since": _time(m.since), "rule_version": m.rule_version}
            for s, m in sorted(profile.segments.items())
        ],
    }


_TALLIES = ("categories_bought", "categories_viewed", "brands_bought", "brands_viewed")


def digest(document: Mapping[str, Any]) -> int:
    """A 63-bit fingerprint of what in the document is news (never 0: "never published").

    Counters are left out: how often a category was viewed or a message sent changes with
    nearly every event. Which categories and brands, when the customer last engaged and the
    day of their last activity stay in, so a counter-only change is published with the next
    day's activity, and browsing alone publishes at most once a day (or on a new category).
    """
    significant = dict(document)
    for name in _TALLIES:
        significant[name] = [tally["name"] for tally in document[name]]
    significant["engagement"] = {
        channel: counters["last_engaged_at"] for channel, counters in document["engagement"].items()
    }
    raw = orjson.dumps(significant, option=orjson.OPT_SORT_KEYS)
    value = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") >> 1
    return value or 1


def profile_record(
    event_id: str, source: str, time: datetime, profile: Profile, document: Mapping[str, Any]
) -> bytes:
    """The `customer.profile` record's bytes, written directly (the document is built from a
    validated profile; validating it again cost a sixth of the processor's time per event).
    tests/unit/segmenter/test_processor.py parses every record with the model."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": "customer.profile",
        "time": time.isoformat(),
        "datacontenttype": "application/json",
        "shopid": profile.shop_id,
        "schemaversion": 1,
        "data": document,
    }
    if profile.customer_id is not None:
        envelope["customerid"] = profile.customer_id
    else:
        envelope["anonymousid"] = profile.anonymous_id
    return orjson.dumps(envelope)
