"""Rules across fields of a campaign, each finding located at the field to fix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from services.triggers.campaigns.durations import format_duration
from services.triggers.campaigns.model import Campaign, CampaignFile, ExitRule, Kind
from shared.events.catalog import EVENT_TYPES

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]

ENTRY_EVENTS: dict[Kind, tuple[str, ...]] = {
    Kind.WELCOME: ("customer.created", "subscription.changed"),
    Kind.ABANDONED_CART: ("cart.updated", "checkout.started", "product.added"),
    Kind.BROWSE_ABANDONMENT: ("product.viewed",),
    Kind.ORDER_UPDATE: (
        "order.placed",
        "order.cancelled",
        "order.refunded",
        "shipment.created",
        "shipment.status_changed",
        "shipment.delivered",
    ),
    Kind.REVIEW_REQUEST: ("shipment.delivered",),
    Kind.CROSS_SELL: ("order.placed",),
    Kind.REPLENISHMENT: ("order.placed",),
    Kind.SEGMENT_ENTRY: (),
    Kind.OCCASION: (),
}
"""Which events can start a journey of each kind (the engine knows how to read them)."""

_ORDER_KINDS = (Kind.ORDER_UPDATE, Kind.REVIEW_REQUEST, Kind.CROSS_SELL, Kind.REPLENISHMENT)
EXIT_KINDS: dict[ExitRule, tuple[Kind, ...]] = {
    ExitRule.CART_EMPTIED: (Kind.ABANDONED_CART,),
    ExitRule.SURVEY_ANSWERED: _ORDER_KINDS,
    ExitRule.ORDER_CANCELLED: _ORDER_KINDS,
    ExitRule.SEGMENT_EXITED: (Kind.SEGMENT_ENTRY,),
    ExitRule.REPURCHASED: (Kind.REPLENISHMENT,),
}
"""Exit rules that only make sense for some kinds; the others apply to any kind."""

MIN_LATENESS = timedelta(minutes=1)


def check_file(config: CampaignFile) -> list[Finding]:
    findings: list[Finding] = []
    for key, campaign in config.campaigns.items():
        where: Loc = ("campaigns", key)
        if campaign.id != key:
            findings.append(((*where, "id"), f"id '{campaign.id}' differs from its key '{key}'"))
        findings.extend(((*where, *loc), msg) for loc, msg in check_campaign(campaign))
    return findings


def check_campaign(campaign: Campaign) -> Iterator[Finding]:
    yield from _check_entry(campaign)
    yield from _check_steps(campaign)
    yield from _check_exits(campaign)
    if campaign.max_lateness < MIN_LATENESS:
        yield ("max_lateness",), "must be at least 1m: a step is never processed at the instant"
    if campaign.consumption_periods and campaign.kind is not Kind.REPLENISHMENT:
        yield ("consumption_periods",), "only replenishment campaigns use consumption periods"
    for key, period in campaign.consumption_periods.items():
        if not key.startswith(("product:", "category:")) or key.endswith(":"):
            yield ("consumption_periods", key), "keys are product:<id> or category:<name>"
        elif period <= timedelta(0):
            yield ("consumption_periods", key), "a consumption period must be longer than 0"


def _check_entry(campaign: Campaign) -> Iterator[Finding]:
    entry, kind = campaign.entry, campaign.kind
    allowed = ENTRY_EVENTS[kind]
    if allowed and not entry.events:
        yield ("entry", "events"), f"{kind} campaigns start on events: {', '.join(allowed)}"
    for index, name in enumerate(entry.events):
        if name not in allowed:
            known = "unknown event type" if name not in EVENT_TYPES else "event type"
            choice = ", ".join(allowed) if allowed else "none (use entry.segment/occasion)"
            yield (
                ("entry", "events", index),
                f"{known} '{name}' cannot start a {kind} campaign; allowed: {choice}",
            )
    if (kind is Kind.SEGMENT_ENTRY) != (entry.segment is not None):
        yield ("entry", "segment"), "entry.segment is for, and required by, segment_entry"
    if (kind is Kind.OCCASION) != (entry.occasion is not None):
        yield ("entry", "occasion"), "entry.occasion is for, and required by, occasion"
    if entry.statuses is not None and "shipment.status_changed" not in entry.events:
        yield ("entry", "statuses"), "statuses filter shipment.status_changed entries only"


def _check_steps(campaign: Campaign) -> Iterator[Finding]:
    seen: set[str] = set()
    previous = timedelta(0)
    for index, step in enumerate(campaign.steps):
        if step.id in seen:
            yield ("steps", index, "id"), f"step id '{step.id}' is used twice"
        seen.add(step.id)
        if step.delay < previous:
            yield (
                ("steps", index, "delay"),
                f"{format_duration(step.delay)} is earlier than the previous step's "
                f"{format_duration(previous)}: delays count from the journey's start",
            )
        previous = max(previous, step.delay)
        if len(set(step.channels)) != len(step.channels):
            yield ("steps", index, "channels"), "a channel is listed twice"
        if step.fallback is not None:
            if campaign.transactional:
                yield (
                    ("steps", index, "fallback"),
                    "transactional messages go out on their channels as listed; "
                    "fallback on no response is for marketing",
                )
            elif step.fallback.channel == step.channels[0]:
                yield ("steps", index, "fallback", "channel"), "must differ from the first channel"
        names = [v.id for v in step.variants]
        for position, name in enumerate(names):
            if name in names[:position]:
                yield ("steps", index, "variants", position, "id"), f"variant '{name}' twice"
        if len(step.variants) == 1:
            yield ("steps", index, "variants"), "an A/B test needs at least 2 variants"


def _check_exits(campaign: Campaign) -> Iterator[Finding]:
    if campaign.transactional and campaign.category is not None:
        yield ("category",), "transactional messages have no category: customers cannot drop them"
    for index, rule in enumerate(campaign.exit):
        if rule is ExitRule.OPTED_OUT and campaign.transactional:
            yield ("exit", index), "transactional campaigns never exit for consent"
        kinds = EXIT_KINDS.get(rule)
        if kinds is not None and campaign.kind not in kinds:
            yield (
                ("exit", index),
                f"{rule} does not apply to {campaign.kind}; it is for: {', '.join(kinds)}",
            )
