"""`/sms/inbound` and `/sms/status`: Twilio's inbound-message and status-callback webhooks.

Both are form POSTs signed with `X-Twilio-Signature` over the URL Twilio was configured with
(the public URL setting, not the Host seen here) and every parameter; the body is read under
the budget for unverified bodies, and nothing is looked up or published before the signature
holds (403 otherwise).

- Inbound: a keyword (services/feedback/sms/keywords.py) or a reply. STOP and START change SMS
  consent for every contact the text concerns (services/feedback/sms/audience.py), HELP gets
  the shop's help text, a bare score answering the survey the last SMS asked for is a
  `survey.answered` (services/feedback/surveys/sms_answers.py has the strict rule), anything
  else is a `reply.received` for the contact last texted.
  Answered with TwiML once the events are on the broker; a phone no shop knows still gets
  its STOP confirmation (carriers require one), with nothing published.
- Status: a final status of a message dispatch sent becomes `message.delivered` or
  `message.undelivered` on messages.status.v1; undelivered and failed also become
  `sms.delivery_failed` on feedback.events.v1, permanent for the codes that condemn the number
  (services/feedback/sms/delivery_codes.py), which dispatch then stops using. Other statuses
  (queued, sent...) are acknowledged and left: dispatch's `message.sent` already says them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter, ValidationError

from services.feedback import metrics
from services.feedback.directory import Contact, ContactRef, SentMessage
from services.feedback.parts import Parts, parts
from services.feedback.sms import delivery_codes, records
from services.feedback.sms.audience import (
    answering_shop,
    audience,
    reply_recipient,
    start_refs,
)
from services.feedback.sms.keywords import Keyword, keyword
from services.feedback.sms.openapi import INBOUND_REQUEST, STATUS_REQUEST
from services.feedback.sms.twiml import MEDIA_TYPE, twiml
from services.feedback.sms.webhook import Form, parse_form, require_form, signed_url, verify
from services.feedback.surveys import records as survey_records
from services.feedback.surveys.sms_answers import answer_to
from shared import twilio_signature
from shared.events import EventEnvelope
from shared.events.messages import DeliveryStatus
from shared.events.types import PhoneE164
from shared.http import problems
from shared.http.body import read_capped
from shared.http.problems import FieldError
from shared.http.routes import DirectRoute, observing
from shared.publisher import BrokerUnavailable
from shared.topics import MESSAGES_STATUS

log = logging.getLogger(__name__)
router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
T = TypeVar("T")

_PHONE: TypeAdapter[str] = TypeAdapter(PhoneE164)
FINAL: dict[str, DeliveryStatus] = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
}
"""Twilio's final statuses; the others (accepted, scheduled, queued, sending, sent,
receiving, received, canceled) change nothing Nudge holds."""


async def _verified_form(request: Request, p: Parts) -> Form:
    require_form(request)
    with p.unverified.hold() as hold:  # the signature covers the form: read it, bounded
        raw = await read_capped(request, p.settings.max_body_bytes, p.settings.body_timeout_s, hold)
        params = parse_form(raw)
        url = signed_url(p.settings.public_url, request)
        verify(
            p.settings.twilio_auth_token,
            url,
            params,
            request.headers.get(twilio_signature.HEADER),
        )
    return Form(params)


async def _ask(p: Parts, what: Callable[[], Awaitable[T]]) -> T:
    """A directory lookup, bounded; a 503 when the directory cannot answer (Twilio retries
    what it gets no answer for, and every id here is deterministic)."""
    try:
        async with asyncio.timeout(p.settings.publish_timeout_s):
            return await what()
    except Exception as exc:
        log.warning("the directory did not answer: %r", exc)
        raise problems.unavailable(
            "the directory cannot be read right now; retry", p.settings.retry_after_s
        ) from None


async def _publish(p: Parts, events: list[EventEnvelope], topic: str | None = None) -> None:
    if not events:
        return
    try:
        await p.publisher.publish(events, topic=topic)
    except BrokerUnavailable as exc:
        raise problems.unavailable(
            f"not recorded yet ({exc}); retry", p.settings.retry_after_s
        ) from None
    for event in events:
        metrics.EVENTS.labels(event.type).inc()


def _phone(value: str | None) -> str | None:
    """The number in E.164 as the directory keeps it, or None (a short code, an alphanumeric
    sender, nonsense)."""
    if value is None:
        return None
    try:
        return _PHONE.validate_python(value)
    except ValidationError:
        return None


@router.post(
    "/sms/inbound",
    summary="Twilio's inbound-message webhook: STOP / START / HELP and replies",
    response_class=Response,
    openapi_extra=INBOUND_REQUEST,
)
@observed("/sms/inbound")
async def post_inbound(request: Request) -> Response:
    p = parts(request)
    form = await _verified_form(request, p)
    sid = form.sid("MessageSid", "SmsSid")
    sender = form.required("From", max_chars=64)
    to_number = form.optional("To", max_chars=64)
    body = form.optional("Body", max_chars=5000) or ""  # a reply's text holds 5,000
    kind = keyword(body)
    phone = _phone(sender)
    texted = await _ask(p, lambda: p.directory.texted(phone)) if phone else []
    scope = audience([contact for contact, _ in texted], _phone(to_number), p.sms)
    in_scope = [sms for contact, sms in texted if sms is not None and contact in scope.contacts]
    last = max(in_scope, key=lambda sms: (sms.sent_at, sms.message_id), default=None)
    label = kind.value if kind is not None else "reply"
    events: list[EventEnvelope] = []
    now = p.clock.now()
    if phone is not None and kind in (Keyword.STOP, Keyword.START):
        assert kind is not None
        covered = scope.covers(last)
        refs = scope.refs
        if kind is Keyword.START:
            refs = start_refs(scope, answering_shop(scope, last))
        events = records.consent_changes(kind, refs, sid=sid, phone=phone, last=covered, now=now)
    elif kind is None:
        recipient = reply_recipient(scope, last)
        if recipient is not None:
            ref, answered = recipient
            score = answer_to(answered, body, now)
            if answered is not None and score is not None:
                label = "survey"
                events = [survey_records.sms_answer(ref, answered, score, sid=sid, now=now)]
            else:
                tags = _reply_tags(p, ref, texted, body)
                events = [
                    records.reply(ref, sid=sid, text=body, answered=answered, now=now, tags=tags)
                ]
    await _publish(p, events)
    metrics.SMS_INBOUND.labels(label, _inbound_outcome(kind, scope.contacts, events)).inc()
    answer = None
    if kind is not None:
        shop = answering_shop(scope, last)
        profile = p.sms.for_shop(shop) if shop is not None else p.sms.deployment
        answer = profile.answer(kind)
    return Response(twiml(answer), media_type=MEDIA_TYPE)


@router.post(
    "/sms/status",
    summary="Twilio's status callback for the messages dispatch sent",
    response_class=Response,
    status_code=204,
    openapi_extra=STATUS_REQUEST,
)
@observed("/sms/status")
async def post_status(request: Request) -> Response:
    p = parts(request)
    form = await _verified_form(request, p)
    sid = form.sid("MessageSid", "SmsSid")
    status_field = "MessageStatus" if form.optional("MessageStatus") else "SmsStatus"
    provider_status = form.required(status_field, max_chars=32).lower()
    error_code = form.optional("ErrorCode", max_chars=16) or None
    if error_code is not None and not error_code.isdigit():
        raise problems.invalid(
            "ErrorCode is not valid", [FieldError("ErrorCode", "not a Twilio error code")]
        )
    outcome = FINAL.get(provider_status)
    if outcome is None:
        metrics.SMS_STATUS.labels(_status_label(provider_status), "ignored").inc()
        return Response(status_code=204)
    message = await _message(p, sid)
    if message is None:
        metrics.SMS_STATUS.labels(provider_status, "unknown_message").inc()
        raise problems.unavailable(
            f"message {sid} is not known here (yet): its sending may still be on its way",
            p.settings.retry_after_s,
        )
    now = p.clock.now()
    permanent = None
    failures: list[EventEnvelope] = []
    if outcome is DeliveryStatus.UNDELIVERED:
        permanent = delivery_codes.is_permanent(error_code)
        phone = await _recipient_phone(p, form, message)
        failures = [
            records.delivery_failed(
                message, phone=phone, error_code=error_code, permanent=permanent, sid=sid, now=now
            )
        ]
    status = records.delivery(
        message,
        outcome,
        provider_status=provider_status,
        error_code=error_code,
        permanent=permanent,
        now=now,
    )
    await asyncio.gather(_publish(p, [status], MESSAGES_STATUS.name), _publish(p, failures))
    metrics.SMS_STATUS.labels(provider_status, "published").inc()
    return Response(status_code=204)


def _reply_tags(
    p: Parts, ref: ContactRef, texted: Sequence[tuple[Contact, object]], text: str
) -> list[str]:
    """The reply's tags, read in the contact's language when the directory knows it (else the
    tagger takes the shop's); a tagger's failure costs the tags, never the reply."""
    locale = next((contact.locale for contact, _ in texted if contact.ref == ref), None)
    try:
        return p.tagger.tags(ref.shop_id, locale, text)
    except Exception:
        log.exception("tagging a reply for %s failed; recorded untagged", ref.shop_id)
        return []


def _inbound_outcome(
    kind: Keyword | None, contacts: Sequence[object], events: Sequence[object]
) -> str:
    if not contacts:
        return "unknown_phone"
    if events:
        return "published"
    if kind is Keyword.HELP:
        return "answered"
    log.info(
        "a reply from a number %d contacts share, none texted first: not recorded", len(contacts)
    )
    return "unattributed"


_IN_PROGRESS = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "receiving", "received", "canceled"}
)


def _status_label(status: str) -> str:
    """A bounded metric label: Twilio's known words, else `other`."""
    return status if status in _IN_PROGRESS else "other"


async def _message(p: Parts, sid: str) -> SentMessage | None:
    """The message with this provider id, waiting a moment for the index to learn it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + p.settings.sms_status_wait_s
    delay = 0.05
    while True:
        found = await _ask(p, lambda: p.directory.message_by_provider_id(sid))
        if found is not None or loop.time() >= deadline:
            return found
        await asyncio.sleep(min(delay, max(deadline - loop.time(), 0)))
        delay = min(delay * 2, 0.5)


async def _recipient_phone(p: Parts, form: Form, message: SentMessage) -> str:
    """The number the message went to: the callback's `To`, else the contact's."""
    phone = _phone(form.optional("To", max_chars=64))
    if phone is None:
        contact = await _ask(p, lambda: p.directory.contact(message.ref))
        phone = _phone(contact.phone if contact is not None else None)
    if phone is None:
        raise problems.invalid("To is not valid", [FieldError("To", "not an E.164 number")])
    return phone
