"""Closing journeys whose exit rule holds, and firing (or expiring) the steps that are due."""

from __future__ import annotations

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.campaigns.model import Campaign, Condition, Step
from services.triggers.journeys.actions import Action, ExpireStep, FireStep, JourneyExited
from services.triggers.journeys.context import build_context
from services.triggers.journeys.exits import exit_reason
from services.triggers.journeys.state import CustomerState, Journey, utc
from services.triggers.journeys.variants import choose_variant
from shared.events.triggers import TriggerExpired, TriggerFired, trigger_id

COMPLETED = "completed"
CAMPAIGN_DISABLED = "campaign_disabled"


def settle(
    state: CustomerState,
    now_s: int,
    campaigns: CampaignSet,
    actions: list[Action],
    *,
    fire: bool,
) -> None:
    """Without `fire`: close every journey whose exit rule holds (an event just arrived).
    With `fire`: for each journey that is due, apply its exit rules again, then send or expire
    its due steps.

    A visitor's journeys are never fired (nobody to send to): they stay parked, with their
    due times, until `merge_identified` hands them to a customer.
    """
    for journey in list(state.journeys):
        if fire and journey.due_at > now_s:
            continue  # its exit rules were applied when the last event arrived
        campaign = campaigns.enabled(journey.campaign_id)
        if campaign is None:
            _close(state, journey, CAMPAIGN_DISABLED, actions)
            continue
        reason = exit_reason(journey, campaign, state)
        if reason is not None:
            _close(state, journey, reason, actions)
        elif fire and not state.anonymous:
            _fire_due_steps(state, journey, campaign, now_s, actions)


def _fire_due_steps(
    state: CustomerState, journey: Journey, campaign: Campaign, now_s: int, actions: list[Action]
) -> None:
    lateness = campaign.lateness_s
    while journey.due_at <= now_s:
        if journey.step >= len(campaign.steps):  # the campaign lost steps since
            _close(state, journey, COMPLETED, actions)
            return
        step = campaign.steps[journey.step]
        if _condition_holds(step, journey, state):
            if now_s - journey.due_at > lateness:
                actions.append(_expire(state, journey, campaign, step, lateness))
            else:
                actions.append(_fire(state, journey, campaign, step, lateness))
        journey.step += 1
        if journey.step >= len(campaign.steps):
            _close(state, journey, COMPLETED, actions)
            return
        journey.due_at = journey.anchor + campaign.delays_s[journey.step]


def _condition_holds(step: Step, journey: Journey, state: CustomerState) -> bool:
    if step.condition is None:
        return True
    bought = state.orders.last_seq > journey.entered_seq
    return bought if step.condition is Condition.BOUGHT else not bought


def _close(state: CustomerState, journey: Journey, reason: str, actions: list[Action]) -> None:
    state.journeys.remove(journey)
    actions.append(JourneyExited(journey.campaign_id, journey.journey_id, reason))


def _ids(state: CustomerState, journey: Journey, step: Step) -> tuple[str, str, str]:
    customer_id = state.customer_id or ""
    key = trigger_id(state.shop_id, customer_id, journey.campaign_id, journey.journey_id, step.id)
    return key, state.shop_id, customer_id


def _fire(
    state: CustomerState, journey: Journey, campaign: Campaign, step: Step, lateness: int
) -> FireStep:
    key, shop_id, customer_id = _ids(state, journey, step)
    variant = choose_variant(step.variants, shop_id, customer_id, campaign.id, step.id)
    data = TriggerFired(
        campaign_id=campaign.id,
        journey_id=journey.journey_id,
        step_id=step.id,
        step_index=journey.step,
        transactional=campaign.transactional,
        channels=list(step.channels),
        fallback=step.fallback,
        template_id=(variant.template if variant else None) or step.template,
        variant=variant.id if variant else None,
        due_at=utc(journey.due_at),
        expires_at=utc(journey.due_at + lateness),
        category=campaign.category,
        survey=step.survey,
        context=build_context(state, journey, campaign, step, variant),
    )
    return FireStep(key, shop_id, customer_id, data)


def _expire(
    state: CustomerState, journey: Journey, campaign: Campaign, step: Step, lateness: int
) -> ExpireStep:
    key, shop_id, customer_id = _ids(state, journey, step)
    data = TriggerExpired(
        campaign_id=campaign.id,
        journey_id=journey.journey_id,
        step_id=step.id,
        step_index=journey.step,
        due_at=utc(journey.due_at),
        max_lateness_s=lateness,
    )
    return ExpireStep(key, shop_id, customer_id, data)
