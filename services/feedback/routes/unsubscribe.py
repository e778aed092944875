"""`/u/<token>`: one-click unsubscribe (RFC 8058) and the preference page behind it.

- `POST /u/<token>` with `List-Unsubscribe=One-Click`: what a mailbox provider sends when the
  reader presses its Unsubscribe button. No cookie, no login, no redirect, no page: the token
  is the credential; the withdrawal is on `feedback.events.v1` before the 200.
- `GET /u/<token>`: the page where the customer confirms, or picks what to keep. A GET never
  changes anything: link scanners and mail previews follow GETs.
- `POST /u/<token>/preferences`: the page's forms (why a forged one fails: preference_form.py).

The token is checked before any body is read; errors name the field, and browsers get them
as a page (Accept: text/html), everyone else as problem+json.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.feedback import metrics
from services.feedback.directory import Contact, ContactRef
from services.feedback.parts import Parts, parts
from services.feedback.unsubscribe import openapi, pages
from services.feedback.unsubscribe.consent_events import (
    ONE_CLICK,
    PREFERENCE_CENTER,
    category_event,
    consent_event,
    form_origin,
    held,
    one_click_origin,
)
from services.feedback.unsubscribe.form_body import parse_form, single
from services.feedback.unsubscribe.link import InvalidLink, LinkTarget, resolve
from services.feedback.unsubscribe.one_click import check_one_click
from services.feedback.unsubscribe.preference_form import (
    CATEGORY_FIELD,
    FORM_FIELD,
    FormRefused,
    Shown,
    accept,
    check_origin,
    choose,
    issue,
    shown_for,
)
from shared.events import EventEnvelope
from shared.events.shop import Channel
from shared.http import problems
from shared.http.body import read_capped
from shared.http.routes import DirectRoute, Handler, observing
from shared.publisher import BrokerUnavailable

log = logging.getLogger(__name__)
router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
FORM_MAX_BYTES = 16 * 1024
"""A one-click body is 26 bytes, a preference form a few hundred: 16 KiB is plenty."""
TITLE = "Your message preferences"


def _wall_clock() -> datetime:
    """A page's age is a person's time, not the (in demos, scaled) time events carry."""
    return datetime.now(UTC)


_HUMAN_TITLES = {
    403: "This form cannot be used",
    404: "This link does not work",
    503: "Please try again in a moment",
}


def _target(p: Parts, request: Request) -> tuple[str, LinkTarget]:
    token: str = request.path_params["token"]
    try:
        return token, resolve(p.link_keys, token)
    except InvalidLink as exc:
        raise problems.from_status(
            404, f"this unsubscribe link is not valid: {exc.reason}"
        ) from None


async def _form(p: Parts, request: Request) -> dict[str, list[str]]:
    limit = min(FORM_MAX_BYTES, p.settings.max_body_bytes)
    with p.unverified.hold() as hold:
        body = await read_capped(request, limit, p.settings.body_timeout_s, hold)
    return parse_form(request.headers.get("content-type"), body)


async def _contact(p: Parts, ref: ContactRef, *, required: bool) -> Contact | None:
    """The directory's contact. When the directory cannot answer: a 503 where the answer is
    needed (a page to show), else None, so that a change is never held up by it (its event
    then takes the time of now and an id without the held version)."""
    try:
        async with asyncio.timeout(p.settings.publish_timeout_s):
            return await p.directory.contact(ref)
    except Exception as exc:
        log.warning("the directory did not answer for %s: %r", ref, exc)
        if required:
            raise problems.unavailable(
                "your preferences cannot be read right now; retry in a moment",
                p.settings.retry_after_s,
            ) from None
        return None


async def _publish(p: Parts, events: list[EventEnvelope]) -> None:
    """Return once the broker has every event; a 503 with Retry-After otherwise."""
    if not events:
        return
    try:
        await p.publisher.publish(events)
    except BrokerUnavailable as exc:
        raise problems.unavailable(
            f"the change is not recorded yet ({exc}); retry", p.settings.retry_after_s
        ) from None
    for event in events:
        metrics.EVENTS.labels(event.type).inc()


def for_people(handler: Handler) -> Handler:
    """A raised problem as a page for browsers (Accept: text/html), as problem+json else."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except problems.Problem as problem:
            if "text/html" not in request.headers.get("accept", ""):
                raise
            title = _HUMAN_TITLES.get(problem.status, "Something is wrong with this form")
            detail = problem.detail[:1].upper() + problem.detail[1:]
            page = pages.render("problem.html.j2", problem.status, title=title, detail=detail)
            page.headers.update(problem.headers)
            return page

    return run


def _boxes(shown: Shown, contact: Contact | None) -> list[pages.Box]:
    return [
        pages.Box(channel.value, pages.LABELS[channel], _address(contact, channel), ticked)
        for channel, ticked in shown.boxes
    ]


def _topics(p: Parts, ref: ContactRef, shown: Shown) -> list[pages.Box]:
    labels = {c.id: c.label for c in p.categories.get(ref.shop_id, ())}
    return [
        pages.Box(CATEGORY_FIELD + category, labels.get(category, category), None, kept)
        for category, kept in shown.topics
    ]


async def _dropped(p: Parts, ref: ContactRef) -> frozenset[str]:
    """The categories the customer dropped, for a shop that offers any (else no lookup)."""
    if not p.categories.get(ref.shop_id):
        return frozenset()
    try:
        async with asyncio.timeout(p.settings.publish_timeout_s):
            return await p.directory.dropped_categories(ref)
    except Exception as exc:
        log.warning("the directory did not answer for %s: %r", ref, exc)
        raise problems.unavailable(
            "your preferences cannot be read right now; retry in a moment",
            p.settings.retry_after_s,
        ) from None


def _address(contact: Contact | None, channel: Channel) -> str | None:
    if contact is None:
        return None
    if channel is Channel.EMAIL:
        return pages.mask_email(contact.email)
    return pages.mask_phone(contact.phone)


async def _page(
    p: Parts,
    token: str,
    target: LinkTarget,
    contact: Contact | None,
    *,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    categories = p.categories.get(target.ref.shop_id, ())
    shown = shown_for(target, contact, categories, await _dropped(p, target.ref))
    return pages.render(
        "preferences.html.j2",
        status,
        title=TITLE,
        notice=notice,
        shop_id=target.ref.shop_id,
        link_label=pages.LABELS[target.channel],
        link_address=_address(contact, target.channel),
        link_subscribed=shown.ticked(target.channel),
        boxes=_boxes(shown, contact),
        topics=_topics(p, target.ref, shown),
        nonce=issue(p.link_keys, token, shown, _wall_clock()),
        action=f"/u/{token}/preferences",
    )


@router.get(
    "/u/{token}",
    summary="The preference page: confirm the unsubscribe or choose what to keep",
    response_class=Response,
    openapi_extra={"parameters": [openapi.TOKEN], "responses": openapi.PAGE_ANSWERS},
)
@observed("GET /u/{token}")
@for_people
async def preference_page(request: Request) -> Response:
    p = parts(request)
    token, target = _target(p, request)
    contact = await _contact(p, target.ref, required=True)
    return await _page(p, token, target, contact)


@router.post(
    "/u/{token}",
    summary="One-click unsubscribe (RFC 8058), as mailbox providers send it",
    response_class=Response,
    openapi_extra={
        "parameters": [openapi.TOKEN],
        "requestBody": openapi.ONE_CLICK_BODY,
        "responses": openapi.ONE_CLICK_ANSWERS,
    },
)
@observed("POST /u/{token}")
async def one_click(request: Request) -> Response:
    p = parts(request)
    _, target = _target(p, request)
    check_one_click(await _form(p, request))
    consent = held(await _contact(p, target.ref, required=False), target.channel)
    event = consent_event(
        target.ref,
        target.channel,
        granted=False,
        source=ONE_CLICK,
        origin_id=one_click_origin(target.ref, target.channel, consent),
        consent=consent,
        now=p.clock.now(),
    )
    await _publish(p, [event])
    return JSONResponse(
        {"status": "unsubscribed", "channel": target.channel.value},
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/u/{token}/preferences",
    summary="The preference page's forms: confirm the unsubscribe, or save the choices",
    response_class=Response,
    openapi_extra={
        "parameters": [openapi.TOKEN],
        "requestBody": openapi.FORM_BODY,
        "responses": openapi.FORM_ANSWERS,
    },
)
@observed("POST /u/{token}/preferences")
@for_people
async def save_preferences(request: Request) -> Response:
    p = parts(request)
    token, target = _target(p, request)
    headers = request.headers
    try:
        check_origin(
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            host=headers.get("host"),
            public_url=p.settings.public_url,
        )
    except FormRefused as exc:
        raise problems.from_status(403, exc.reason) from None
    fields = await _form(p, request)
    nonce = single(fields, FORM_FIELD)
    try:
        categories = p.categories.get(target.ref.shop_id, ())
        shown = accept(p.link_keys, token, nonce, _wall_clock(), categories)
    except FormRefused as exc:
        if not exc.expired:
            raise problems.from_status(403, exc.reason) from None
        contact = await _contact(p, target.ref, required=True)
        return await _page(p, token, target, contact, status=403, notice=f"{exc.reason}.")
    assert nonce is not None  # accepted
    choice = choose(fields, shown, target.channel)
    contact = await _contact(p, target.ref, required=False)
    events: list[EventEnvelope] = []
    for channel, granted in choice.changes:
        events.append(
            consent_event(
                target.ref,
                channel,
                granted=granted,
                source=PREFERENCE_CENTER,
                origin_id=form_origin(nonce, channel, granted),
                consent=held(contact, channel),
                now=p.clock.now(),
            )
        )
    for category, kept in choice.topic_changes:
        now = p.clock.now()
        events.append(category_event(target.ref, category, subscribed=kept, nonce=nonce, now=now))
    await _publish(p, events)
    saved = Shown(tuple(choice.chosen.items()), tuple(choice.topics.items()))
    return pages.render(
        "saved.html.j2",
        title=TITLE,
        changed=bool(choice.changes or choice.topic_changes),
        boxes=_boxes(saved, contact) + _topics(p, target.ref, saved),
        page=f"/u/{token}",
    )
