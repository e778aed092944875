"""Birthday and first-purchase anniversary journeys: always the next occurrence, kept open.

Each occasion campaign holds one open journey for its next date (`birthday-2027`), so the
runtime's timer index sees it like any other step. It is recomputed when the facts it depends
on may have changed (birthday, time zone, first order, consent) and after it fired. A date
whose send time has passed by more than the campaign's lateness is skipped for the next year.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.campaigns.model import Campaign
from services.triggers.journeys.actions import Action, JourneyExited
from services.triggers.journeys.calendar import local_date, local_instant, occurrence, zone_of
from services.triggers.journeys.entries import Seed, enter, open_journey
from services.triggers.journeys.state import CustomerState, epoch, utc

INPUTS = frozenset(
    {
        "customer.created",
        "customer.updated",
        "order.placed",
        "subscription.changed",
        "consent.granted",
        "category.preference_changed",
    }
)
"""Events after which an occasion's date, time or eligibility may differ."""


def reconcile(
    state: CustomerState,
    now_s: int,
    campaigns: CampaignSet,
    actions: list[Action],
    *,
    recompute: bool,
) -> None:
    """Make each occasion campaign's open journey the right next one (or open it)."""
    for campaign in campaigns.occasions:
        current = open_journey(state, campaign.id)
        if current is not None and (not recompute or current.due_at <= now_s):
            continue  # a journey already due is left to fire or expire on its own terms
        seed = next_occasion(
            state, campaign, now_s, campaigns, current.journey_id if current else None
        )
        if current is None:
            if seed is not None:
                enter(state, campaign, seed, actions)
        elif seed is None:
            state.journeys.remove(current)
            actions.append(JourneyExited(campaign.id, current.journey_id, "no_valid_date"))
        elif current.step == 0 and (current.journey_id, current.due_at) != (
            seed.journey_id,
            seed.anchor,
        ):
            current.journey_id = seed.journey_id
            current.anchor = current.due_at = seed.anchor
            current.occasion_date = seed.occasion_date


def next_occasion(
    state: CustomerState,
    campaign: Campaign,
    now_s: int,
    campaigns: CampaignSet,
    open_id: str | None,
) -> Seed | None:
    if campaign.entry.occasion == "birthday" and state.contact.birthday is None:
        return None
    if campaign.entry.occasion != "birthday" and state.orders.first_at is None:
        return None
    zone = zone_of(state.contact.time_zone, campaigns.default_zone)
    today = local_date(utc(now_s), zone)
    base = _base_date(state, campaign, zone)
    if base is None or base > today:
        return None  # no date, or one in the future: not a valid birthday / first order
    mark = state.campaigns.get(campaign.id)
    done = set(mark.journey_ids) - {open_id} if mark is not None else set()
    lateness = campaign.lateness_s
    for year in (today.year - 1, today.year, today.year + 1):
        if year <= base.year:
            continue
        day = occurrence(base.month, base.day, year)
        due = epoch(local_instant(day, campaign.entry.at, zone))
        journey_id = f"{campaign.entry.occasion}-{year}"
        if journey_id in done or now_s - due > lateness:
            continue
        return Seed(journey_id, now_s, due, occasion_date=day.isoformat())
    return None


def _base_date(state: CustomerState, campaign: Campaign, zone: ZoneInfo) -> date | None:
    if campaign.entry.occasion == "birthday":
        text = state.contact.birthday
        return date.fromisoformat(text) if text else None
    first = state.orders.first_at
    return local_date(utc(first), zone) if first is not None else None
