"""Taking one verified SES notification: find whom it concerns, publish, then remember.

The order makes a retried notification safe: transient bounces are counted first (a
notification counts once however often it comes), the events are published and acknowledged,
and only then are the suppressions recorded. A failure anywhere answers non-2xx, SNS delivers
the notification again, and the same events (same ids) are published again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Literal

from services.feedback.bounces import rules
from services.feedback.bounces.rules import Notice
from services.feedback.bounces.ses import BounceType, Kind, SesNotification
from services.feedback.bounces.store import Suppression, SuppressionStore
from services.feedback.directory import ContactRef, Directory, SentMessage
from shared.events import EventEnvelope
from shared.events import feedback as fb

Publish = Callable[[Sequence[EventEnvelope]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SoftRule:
    limit: int
    window: timedelta

    @property
    def window_h(self) -> float:
        return self.window.total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["accepted", "ignored"]
    events: tuple[EventEnvelope, ...] = ()
    detail: str = ""


async def take_notification(
    notification_id: str,
    sent_at: datetime,
    ses: SesNotification,
    *,
    directory: Directory,
    store: SuppressionStore,
    publish: Publish,
    soft: SoftRule,
) -> Outcome:
    if ses.kind is None or ses.kind is Kind.DELIVERY:
        return Outcome("ignored", detail=f"{ses.kind_name} notifications are not acted on")
    at = ses.happened_at or sent_at
    message = await _message(directory, ses.message_ids)
    events: list[EventEnvelope] = []
    for recipient in ses.recipients:
        notice = Notice(notification_id, recipient.email, at, recipient.diagnostic, message)
        contacts = await directory.contacts_by_email(notice.address)
        if ses.kind is Kind.COMPLAINT:
            events += [
                rules.complained(r, notice) for r in rules.complaint_targets(notice, contacts)
            ]
        elif ses.bounce_type is BounceType.PERMANENT:
            hard = fb.BounceKind.HARD
            events += [
                rules.bounced(r, notice, hard) for r in rules.mailbox_targets(notice, contacts)
            ]
        else:  # Transient, and Undetermined: recorded, counted
            targets = rules.delivery_targets(notice, contacts)
            events += [rules.bounced(r, notice, fb.BounceKind.SOFT) for r in targets]
            events += await _soft_suppressions(notice, targets, store, soft)
    if not events:
        return Outcome("ignored", detail="the notification concerns no known contact")
    await publish(events)
    await store.suppress([held for event in events if (held := _held(event)) is not None])
    return Outcome("accepted", tuple(events))


async def _message(directory: Directory, candidates: Sequence[str]) -> SentMessage | None:
    for candidate in candidates:
        found = rules.answered(await directory.message(candidate))
        if found is not None:
            return found
    return None


async def _soft_suppressions(
    notice: Notice, targets: Sequence[ContactRef], store: SuppressionStore, soft: SoftRule
) -> list[EventEnvelope]:
    out: list[EventEnvelope] = []
    for shop_id, refs in groupby(sorted(targets, key=_by_shop), key=lambda r: r.shop_id):
        count = await store.count_soft_bounce(
            shop_id, notice.address, notice.notification_id, notice.at, soft.window
        )
        if count < soft.limit:
            continue
        held = await store.active(shop_id, address=notice.address)
        if any(h.scope is fb.SuppressionScope.ALL for h in held):
            continue
        out += [rules.suppressed(r, notice, count, soft.window_h) for r in refs]
    return out


def _by_shop(ref: ContactRef) -> tuple[str, str]:
    return ref.shop_id, ref.customer_id


def _held(event: EventEnvelope) -> Suppression | None:
    what = rules.suppression_of(event)
    email = getattr(getattr(event, "data", None), "email", None)
    if what is None or email is None or event.customerid is None:
        return None
    scope, reason = what
    return Suppression(
        shop_id=event.shopid,
        address=str(email).lower(),
        customer_id=event.customerid,
        scope=scope,
        reason=reason,
        at=event.time,
        event_id=event.id,
    )
