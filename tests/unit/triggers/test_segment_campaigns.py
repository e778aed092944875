"""Win-back (inactivity segment, A/B) and VIP (segment entry, exit on leaving it)."""

from __future__ import annotations

from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    at,
    consenting_customer,
    entries,
    exits,
    fires,
    order_placed,
    segment_entered,
    segment_exited,
    with_facts_only,
)

WIN_BACK = "win_back"


def test_win_back_on_entering_the_inactivity_segment_with_a_follow_up() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0 - (at(days=100) - T0), "o-old", [("beans", "coffee")]))
    (offer,) = fires(customer.send(segment_entered(T0, "lapsed")), WIN_BACK)
    assert offer.data.variant in ("newest", "personal")
    assert offer.data.context.recommendations is not None
    assert offer.data.context.recommendations.strategy == offer.data.variant
    assert [p.product_id for p in offer.data.context.products] == ["beans"]
    assert offer.data.context.segment_id == "lapsed"
    assert offer.data.context.incentive_code == "COMEBACK15"
    customer.run_until(at(days=30))
    assert customer.fire_times(WIN_BACK) == [T0, at(days=14)]


def test_other_segments_do_not_start_win_back() -> None:
    customer = consenting_customer()
    assert entries(customer.send(segment_entered(T0, "inactive-30d")), WIN_BACK) == []


def test_any_purchase_ends_win_back_at_event_and_fire_time() -> None:
    customer = consenting_customer()
    customer.send(segment_entered(T0, "lapsed"))
    assert exits(customer.send(order_placed(at(days=2))), WIN_BACK) == ["order_placed"]
    other = consenting_customer()
    other.send(segment_entered(T0, "lapsed"))
    assert other.state is not None
    state = with_facts_only(other.state, order_placed(at(days=2)))
    decision = fire_due(state, at(days=14), other.campaigns)
    assert fires(decision.actions, WIN_BACK) == []


def test_win_back_re_entry_waits_90_days() -> None:
    customer = consenting_customer()
    customer.send(segment_entered(T0, "lapsed"))
    customer.send(order_placed(at(days=1)))
    customer.send(segment_exited(at(days=1), "lapsed"))
    assert entries(customer.send(segment_entered(at(days=50), "lapsed")), WIN_BACK) == []
    assert len(entries(customer.send(segment_entered(at(days=91), "lapsed")), WIN_BACK)) == 1


def test_the_ab_variant_is_stable_for_a_customer() -> None:
    first = consenting_customer()
    second = consenting_customer()
    (a,) = fires(first.send(segment_entered(T0, "lapsed")), WIN_BACK)
    (b,) = fires(second.send(segment_entered(at(hours=1), "lapsed")), WIN_BACK)
    assert a.data.variant == b.data.variant
    assert a.trigger_id != b.trigger_id  # different segment entries, different journeys


def test_vip_welcome_on_entry_with_a_fallback_channel() -> None:
    customer = consenting_customer()
    (fire,) = fires(customer.send(segment_entered(T0, "vip")), "vip")
    assert fire.data.fallback is not None
    assert fire.data.fallback.channel.value == "sms"
    assert fire.data.fallback.unless.value == "opened"


def test_leaving_vip_ends_the_journey_at_event_and_fire_time() -> None:
    from services.triggers.campaigns import parse_campaigns
    from services.triggers.campaigns.loader import _default_source

    later = parse_campaigns(
        "extends: default\ncampaigns:\n  vip:\n    steps:\n"
        "      - {id: offer, delay: 2d, channels: [email], template: vip/offer}\n",
        "acme.yaml",
        base=_default_source(),
    )
    customer = consenting_customer(later)
    customer.send(segment_entered(T0, "vip"))
    assert exits(customer.send(segment_exited(at(days=1), "vip")), "vip") == ["segment_exited"]
    other = consenting_customer(later)
    other.send(segment_entered(T0, "vip"))
    assert other.state is not None
    state = with_facts_only(other.state, segment_exited(at(days=1), "vip"))
    decision = fire_due(state, at(days=2), later)
    assert fires(decision.actions) == [] and exits(decision.actions, "vip") == ["segment_exited"]
