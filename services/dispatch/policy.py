"""Whether, when and on which channel a trigger becomes a message: pure decisions.

No I/O and no clock: the caller passes the contact as stored, the customer's recent message
history and `now`. The same function decides at intake and again just before sending, so an
opt-out recorded in between wins (invariant 3), and a deferred message is re-decided when its
time comes.

Rules, in order:
1. a trigger past its `expires_at` is skipped (a cart reminder days late helps nobody);
2. channel order: the step's channels, then the customer's preferred channel, then the other;
   when the step offers several channels and the customer can be reached with consent on more
   than one of them, their preferred one (the channel they engage with best: preference.py)
   goes first, else the campaign's order stands; channels without a template are left out;
   "fallback for those who did not respond": when the journey's previous message on the first
   channel was sent more than `within_hours` ago and not opened / clicked / replied, the
   fallback channel goes first (this message's evidence wins over the long-run preference);
3. a channel is available with an address that has not permanently failed (or been
   suppressed), and — for marketing — is not suppressed for marketing (a complaint) and has
   consent on that channel; the first available one is used. Without consent the
   reason says which: `opted_out` when the customer withdrew it (an SMS STOP, a one-click
   unsubscribe, a complaint), `no_consent` when it was never given (or the shop says denied);
4. marketing only: the frequency cap per channel (skipped, with the reason), then quiet hours
   for SMS in the customer's time zone (deferred to the end of the quiet period, not dropped).
Transactional messages skip rule 3's consent and rule 4 entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.events.messages import SkipReason
from shared.events.shop import Channel
from shared.events.triggers import Engagement, TriggerFired


@dataclass(frozen=True)
class ChannelState:
    """What dispatch knows about one channel of one customer."""

    address: str | None = None
    consent: bool | None = None
    """Marketing consent: True granted, False withdrawn or denied, None never stated."""
    undeliverable: str | None = None
    """Why the address cannot receive anything (hard bounce, permanent provider rejection)."""
    marketing_suppressed: str | None = None
    """Why the address takes no marketing (a complaint), until an operator clears it."""
    withdrawn: bool = field(default=False, kw_only=True)
    """Consent is False because the customer withdrew it (not because it was never given)."""


@dataclass(frozen=True)
class Contact:
    email: ChannelState = ChannelState()
    sms: ChannelState = ChannelState()
    preferred_channel: Channel | None = None
    """The channel the customer engages with best, from their profile (preference.py)."""
    monetary_score: int | None = None
    """The profile's RFM monetary score (1-5, the shop's quintiles): the value tier some
    incentives are scaled by (incentives.py)."""
    time_zone: str | None = None
    locale: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    dropped_categories: frozenset[str] = frozenset()
    """Campaign categories the customer dropped on the preference page."""

    def channel(self, channel: Channel) -> ChannelState:
        return self.email if channel is Channel.EMAIL else self.sms


@dataclass(frozen=True)
class PreviousMessage:
    """The journey's last message that went out, with what the customer did with it."""

    channel: Channel
    sent_at: datetime
    opened: bool = False
    clicked: bool = False
    replied: bool = False

    def engaged(self, how: Engagement) -> bool:
        if how is Engagement.OPENED:  # a click or a reply implies the message was seen
            return self.opened or self.clicked or self.replied
        if how is Engagement.CLICKED:
            return self.clicked
        return self.replied


@dataclass(frozen=True)
class History:
    recent_marketing: dict[Channel, Sequence[datetime]] = field(default_factory=dict)
    """Send times of this customer's marketing messages per channel, newest window only."""
    previous: PreviousMessage | None = None


@dataclass(frozen=True)
class ShopPolicy:
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    default_time_zone: str = "UTC"
    cap_count: int = 1
    """Marketing messages allowed per channel within `cap_window`."""
    cap_window: timedelta = timedelta(hours=16)


@dataclass(frozen=True)
class Send:
    channel: Channel
    address: str


@dataclass(frozen=True)
class Defer:
    channel: Channel
    until: datetime
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    channel: Channel | None = None
    detail: str | None = None


Plan = Send | Defer | Skip


def plan_message(
    trigger: TriggerFired,
    contact: Contact,
    history: History,
    policy: ShopPolicy,
    now: datetime,
    has_template: Callable[[Channel], bool],
) -> Plan:
    if trigger.expires_at is not None and now > trigger.expires_at:
        return Skip(SkipReason.EXPIRED, detail=f"expired at {trigger.expires_at.isoformat()}")
    dropped = category_refusal(trigger, contact)
    if dropped is not None:
        return dropped
    order = [c for c in channel_order(trigger, contact, history, now) if has_template(c)]
    if not order:
        return Skip(SkipReason.NO_CHANNEL, detail="no template for any allowed channel")
    refusals: list[tuple[Channel, SkipReason, str]] = []
    for channel in order:
        state = contact.channel(channel)
        refusal = _unavailable(state, trigger.transactional)
        if refusal is not None:
            refusals.append((channel, *refusal))
            continue
        assert state.address is not None
        if trigger.transactional:
            return Send(channel, state.address)
        if _capped(history.recent_marketing.get(channel, ()), policy, now):
            window = policy.cap_window.total_seconds() / 3600
            return Skip(
                SkipReason.FREQUENCY_CAP,
                channel,
                f"{policy.cap_count} marketing {channel} message(s) per {window:g} h already sent",
            )
        if channel is Channel.SMS:
            resume = quiet_hours_end(now, contact.time_zone or policy.default_time_zone, policy)
            if resume is not None:
                return Defer(channel, resume, "quiet_hours")
        return Send(channel, state.address)
    channel, reason, _ = refusals[0]
    return Skip(reason, channel, "; ".join(f"{c}: {d}" for c, _, d in refusals))


def channel_order(
    trigger: TriggerFired, contact: Contact, history: History, now: datetime
) -> list[Channel]:
    order = preferred_first(list(trigger.channels), contact)
    for extra in (contact.preferred_channel, *Channel):
        if extra is not None and extra not in order:
            order.append(extra)
    rule, previous = trigger.fallback, history.previous
    if (
        rule is not None
        and previous is not None
        and previous.channel is order[0]
        and now - previous.sent_at >= timedelta(hours=rule.within_hours)
        and not previous.engaged(rule.unless)
    ):
        order.remove(rule.channel)
        order.insert(0, rule.channel)
    return order


def preferred_first(channels: list[Channel], contact: Contact) -> list[Channel]:
    """The step's channels with the customer's preferred one first, when the step offers it
    and the customer can be reached with consent on it and on another of them; otherwise (no
    preference, a single channel, the preferred one or every other one unusable) the
    campaign's order, so that every refusal, cap and quiet hour reads as before. Consent is
    asked for transactional messages too: a receipt moves to SMS only for a customer who
    accepts marketing there, not merely because a number is known."""
    preferred = contact.preferred_channel
    if preferred is None or preferred not in channels or channels[0] is preferred:
        return channels
    reachable = [c for c in channels if _unavailable(contact.channel(c), False) is None]
    if preferred not in reachable or len(reachable) < 2:
        return channels
    return [preferred, *(c for c in channels if c is not preferred)]


def _unavailable(state: ChannelState, transactional: bool) -> tuple[SkipReason, str] | None:
    if state.address is None:
        return SkipReason.NO_ADDRESS, "no address"
    if state.undeliverable is not None:
        return SkipReason.SUPPRESSED, state.undeliverable
    if not transactional and state.marketing_suppressed is not None:
        return SkipReason.SUPPRESSED, state.marketing_suppressed
    if not transactional and state.consent is not True:
        return consent_refusal(state)
    return None


def category_refusal(trigger: TriggerFired, contact: Contact) -> Skip | None:
    """A marketing message of a category the customer dropped: skipped on every channel."""
    if trigger.transactional or trigger.category not in contact.dropped_categories:
        return None
    return Skip(SkipReason.OPTED_OUT, detail=f"category '{trigger.category}' dropped")


def consent_refusal(state: ChannelState) -> tuple[SkipReason, str]:
    """Why a marketing message may not use a channel without consent: withdrawn by the
    customer (`opted_out`) or never given (`no_consent`)."""
    if state.consent is False and state.withdrawn:
        return SkipReason.OPTED_OUT, "marketing consent withdrawn"
    stated = "denied" if state.consent is False else "never given"
    return SkipReason.NO_CONSENT, f"marketing consent {stated}"


def _capped(sent: Sequence[datetime], policy: ShopPolicy, now: datetime) -> bool:
    since = now - policy.cap_window
    return sum(1 for moment in sent if moment > since) >= policy.cap_count


def quiet_hours_end(now: datetime, zone: str, policy: ShopPolicy) -> datetime | None:
    """When the quiet period `now` falls in ends (UTC), or None outside quiet hours."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    start, end = policy.quiet_start, policy.quiet_end
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:  # the period wraps midnight, e.g. 21:00-08:00
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    resume = datetime.combine(end_day, end, tzinfo=tz)
    # A wall time that does not exist (spring forward) maps via UTC to the first real instant.
    return resume.astimezone(UTC)
