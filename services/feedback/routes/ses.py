"""`POST /email/sns`: Amazon SES bounce and complaint notifications, delivered by SNS over HTTPS.

Nothing is believed before the signature is: the body is read within the unverified-bodies
budget, its TopicArn must be allowed, its signing certificate must come from an allow-listed
place (bounces/certificates.py), and its signature must verify. Then:

- SubscriptionConfirmation: confirmed by fetching its SubscribeURL (SNS's host only), or
  logged for an operator when auto-confirmation is off;
- Notification: the SES notification inside becomes events on `feedback.events.v1`
  (bounces/rules.py says whom it concerns), answered 200 once the broker has them;
- UnsubscribeConfirmation: logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from services.feedback import metrics
from services.feedback.bounces.certificates import SnsUnreachable
from services.feedback.bounces.notifications import SoftRule, take_notification
from services.feedback.bounces.openapi import SNS_ANSWERS, SNS_BODY
from services.feedback.bounces.ses import SesInvalid, parse_notification
from services.feedback.bounces.sns import (
    SnsInvalid,
    SnsMessage,
    SnsRejected,
    SnsType,
    check_sns_url,
    parse_message,
    verify_signature,
)
from services.feedback.parts import Parts, parts
from shared.http import problems
from shared.http.body import json_object, parse_json, read_capped, refuse_nul
from shared.http.problems import FieldError
from shared.http.routes import DirectRoute, observing
from shared.publisher import BrokerUnavailable, RecordRefused

log = logging.getLogger(__name__)
router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
PATH = "/email/sns"
_MEDIA_TYPES = frozenset({"text/plain", "application/json"})
MAX_CONFIRMATION_BYTES = 64 * 1024


def _answer(status: str, **more: Any) -> Response:
    return JSONResponse({"status": status, **more})


def _forbidden(field: str, reason: str) -> problems.Problem:
    return problems.Problem(
        403,
        "Forbidden",
        "the message is not provably from an allowed SNS topic",
        [FieldError(field, reason)],
    )


def _check_media_type(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in _MEDIA_TYPES and not media.endswith("+json"):
        raise problems.unsupported_media(
            f"Content-Type must be text/plain (as SNS sends) or application/json, not {media!r}"
        )


def _envelope(raw: bytes) -> SnsMessage:
    document = json_object(parse_json(raw), "an SNS message")
    refuse_nul(raw, document, "the SNS message")
    try:
        return parse_message(document)
    except SnsInvalid as exc:
        errors = [FieldError(field, reason) for field, reason in exc.errors]
        raise problems.invalid("not an SNS message", errors) from None


async def _verify(p: Parts, message: SnsMessage) -> None:
    """Return only when an allowed topic's signing certificate signed `message`."""
    try:
        if message.topic_arn not in p.settings.sns_topic_arns:
            raise SnsRejected("TopicArn", "is not a topic this service takes")
        certificate = await p.bounces.certificates.certificate(message.signing_cert_url)
        verify_signature(message, certificate)
    except SnsRejected as exc:
        metrics.SNS_MESSAGES.labels(message.type.value, "forbidden").inc()
        log.warning("SNS message %s refused: %s", message.message_id, exc)
        raise _forbidden(exc.field, exc.reason) from None
    except SnsUnreachable as exc:
        raise problems.unavailable(
            f"the signing certificate cannot be fetched now ({exc}); retry",
            p.settings.retry_after_s,
        ) from None


@router.post(
    PATH,
    summary="Amazon SES bounces and complaints, as SNS delivers them over HTTPS",
    response_class=Response,
    openapi_extra={"requestBody": SNS_BODY, "responses": SNS_ANSWERS},
)
@observed(f"POST {PATH}")
async def sns_delivery(request: Request) -> Response:
    p = parts(request)
    _check_media_type(request)
    with p.unverified.hold() as hold:  # the signature covers the body: read it, bounded
        raw = await read_capped(request, p.settings.max_body_bytes, p.settings.body_timeout_s, hold)
        message = _envelope(raw)
        await _verify(p, message)
    if message.type is SnsType.SUBSCRIPTION_CONFIRMATION:
        return await _confirm(p, message)
    if message.type is SnsType.UNSUBSCRIBE_CONFIRMATION:
        log.warning("SNS says %s is no longer delivered here", message.topic_arn)
        metrics.SNS_MESSAGES.labels(message.type.value, "noted").inc()
        return _answer("noted")
    return await _notification(p, message)


async def _confirm(p: Parts, message: SnsMessage) -> Response:
    url = message.subscribe_url or ""
    try:
        check_sns_url(url, "SubscribeURL")
    except SnsRejected as exc:
        raise problems.invalid(
            "the subscription cannot be confirmed", [FieldError(exc.field, exc.reason)]
        ) from None
    http = p.bounces.http
    if not p.settings.sns_auto_confirm or http is None:
        log.warning("SNS asks to confirm the subscription of %s: open %s", message.topic_arn, url)
        metrics.SNS_MESSAGES.labels(message.type.value, "logged").inc()
        return _answer("logged")
    try:
        await http.get(url, "SubscribeURL", max_bytes=MAX_CONFIRMATION_BYTES)
    except SnsUnreachable as exc:
        log.warning("confirming %s failed (%s); open %s", message.topic_arn, exc, url)
        raise problems.unavailable(
            f"the subscription could not be confirmed now ({exc})", p.settings.retry_after_s
        ) from None
    log.info("confirmed the SNS subscription of %s", message.topic_arn)
    metrics.SNS_MESSAGES.labels(message.type.value, "confirmed").inc()
    return _answer("confirmed")


async def _notification(p: Parts, message: SnsMessage) -> Response:
    try:
        ses = parse_notification(message.message)
    except SesInvalid as exc:
        errors = [FieldError(field, reason) for field, reason in exc.errors]
        raise problems.invalid("not an SES notification", errors) from None
    soft = SoftRule(p.settings.soft_bounce_limit, timedelta(hours=p.settings.soft_bounce_window_h))
    try:
        outcome = await take_notification(
            message.message_id,
            message.sent_at,
            ses,
            directory=p.directory,
            store=p.bounces.store,
            publish=p.publisher.publish,
            soft=soft,
        )
    except BrokerUnavailable as exc:
        raise problems.unavailable(
            f"the notification is not recorded yet ({exc}); retry", p.settings.retry_after_s
        ) from None
    except RecordRefused as exc:  # cannot happen at these sizes: the limits disagree
        raise problems.too_large(f"an event was refused by the producer: {exc}") from None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("the database did not answer for SNS message %s: %r", message.message_id, exc)
        raise problems.unavailable(
            "the database cannot be reached now; retry", p.settings.retry_after_s
        ) from None
    kind = ses.kind.value if ses.kind is not None else "other"
    metrics.SNS_MESSAGES.labels(kind, outcome.status).inc()
    for event in outcome.events:
        metrics.EVENTS.labels(event.type).inc()
    if outcome.status == "ignored":
        log.info("SNS message %s ignored: %s", message.message_id, outcome.detail)
        return _answer("ignored", events=0, detail=outcome.detail)
    return _answer("accepted", events=len(outcome.events))
