"""`/c/<token>` (a tracked click) and `/o/<token>.gif` (the open pixel).

- `GET /c/<token>`: the token carries its target, signed (shared/tracking_links.py); a valid
  click is published as `message.clicked`, then the browser is sent on with a 302 (no cache,
  no Referer: the token stays out of the shop's logs). Nothing else in the request is read
  (a `?url=` is ignored), and anything unsigned, altered, another kind of token, or a signed
  target that is not an absolute http(s) URL (shared/link_targets.py) gets a 400 page, never a
  redirect: this is not an open redirect.
- `GET /o/<token>.gif`: always the transparent GIF (a broken image would show in the
  message), never cached; a valid token's open is published as `message.opened`.

Both take HEAD too (link scanners use it: such a request is a machine's). When the index or
the broker does not answer within `NUDGE_FEEDBACK_TRACKING_WAIT_S`, the customer still gets
the redirect or the pixel: a click is worth less than the customer's trust that the link
works. The open or click is then lost, and counted (nudge_feedback_tracking_lost_total).
Who opened or clicked, a person or a machine: tracking/machines.py; the events' ids:
tracking/records.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from services.feedback import metrics
from services.feedback.directory import SentMessage
from services.feedback.parts import Parts, parts
from services.feedback.tracking import openapi, records
from services.feedback.tracking.machines import Kind, Seen, classify
from services.feedback.tracking.pixel import GIF, MEDIA_TYPE
from services.feedback.unsubscribe import pages
from shared.events import EventEnvelope
from shared.events.feedback import MachineReason
from shared.events.shop import Channel
from shared.http import problems
from shared.http.openapi import Answers
from shared.http.routes import DirectRoute, Handler, observing
from shared.link_targets import redirectable
from shared.publisher import BrokerUnavailable, RecordRefused
from shared.tracking_links import Click, Tracked, verify_click, verify_open

log = logging.getLogger(__name__)
router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
NOT_CACHED = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_BROKEN_TITLE = "This link does not work"


def _client_listed(request: Request, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    if not networks or request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _email_age_s(p: Parts, message: SentMessage | None, now: datetime) -> float | None:
    """Wall seconds since the email was sent (event times run `time_scale` times faster in
    demos); None for an SMS or an unknown message."""
    if message is None or message.channel is not Channel.EMAIL:
        return None
    return (now - message.sent_at).total_seconds() / p.settings.time_scale


async def _message(p: Parts, message_id: str) -> SentMessage | None:
    """The sent message from the index, or None when it does not know it or cannot answer
    in time (the event then names the message only)."""
    try:
        async with asyncio.timeout(p.settings.tracking_wait_s):
            return await p.directory.message(message_id)
    except Exception as exc:
        log.warning("the directory did not answer for message %s: %r", message_id, exc)
        return None


async def _record(
    p: Parts, request: Request, kind: Kind, tracked: Tracked, click: Click | None = None
) -> None:
    """Classify and publish one open or click; never raises (the answer does not wait on it)."""
    burst = click is not None and p.recent_clicks.clicked(tracked.message_id, click.url)
    message = await _message(p, tracked.message_id)
    now = p.clock.now()
    seen = Seen(
        kind=kind,
        method=request.method,
        user_agent=request.headers.get("user-agent"),
        listed_network=_client_listed(request, p.settings.machine_networks),
        email_age_s=_email_age_s(p, message, now),
        burst=burst,
    )
    reason = classify(seen, p.settings.machine_after_send_s)
    event: EventEnvelope
    try:
        if click is not None:
            event = records.clicked(click, message, reason, now)
        else:
            event = records.opened(tracked, message, reason, now)
    except ValidationError as exc:  # ids our own dispatch signed: not expected
        log.warning("a signed %s token names what no event can hold: %s", kind, exc)
        metrics.TRACKING_LOST.labels(kind).inc()
        return
    try:
        async with asyncio.timeout(p.settings.tracking_wait_s):
            await p.publisher.publish([event])
    except (TimeoutError, BrokerUnavailable, RecordRefused) as exc:
        log.warning("a %s of message %s is lost: %r", kind, tracked.message_id, exc)
        metrics.TRACKING_LOST.labels(kind).inc()
        return
    _count(kind, reason)
    metrics.EVENTS.labels(event.type).inc()


def _count(kind: Kind, reason: MachineReason | None) -> None:
    who = "human" if reason is None else "machine"
    metrics.TRACKED.labels(kind, who, "" if reason is None else reason.value).inc()


def _broken(request: Request, detail: str) -> Response:
    """A 400, as a page for browsers (Accept: text/html), as a problem for anything else."""
    if "text/html" not in request.headers.get("accept", ""):
        problem = problems.bad_request(detail)
        problem.headers.update(NOT_CACHED)
        return problem.response()
    page = pages.render(
        "broken_link.html.j2", 400, title=_BROKEN_TITLE, detail=detail[:1].upper() + detail[1:]
    )
    page.headers.update(NOT_CACHED)
    return page


def _get_and_head(
    path: str, name: str, summary: str, parameter: dict[str, Any], answers: Answers
) -> Callable[[Handler], Handler]:
    """Register `handler` for GET and HEAD on `path`, each its own documented operation."""

    def register(handler: Handler) -> Handler:
        for method in ("GET", "HEAD"):
            router.add_api_route(
                path,
                handler,
                methods=[method],
                operation_id=f"{name}_{method.lower()}",
                summary=summary,
                response_class=Response,
                openapi_extra={"parameters": [parameter], "responses": answers},
            )
        return handler

    return register


@_get_and_head(
    "/c/{token}",
    "tracked_click",
    "A tracked link: record the click, redirect to the signed target",
    openapi.CLICK_TOKEN,
    openapi.CLICK_ANSWERS,
)
@observed("GET /c/{token}")
async def click(request: Request) -> Response:
    p = parts(request)
    found = verify_click(p.link_keys, request.path_params["token"])
    if found is None:
        metrics.TRACKING_REFUSED.labels("click", "token").inc()
        return _broken(request, "this link is not one of ours, or it was changed")
    if not redirectable(found.url):
        metrics.TRACKING_REFUSED.labels("click", "target").inc()
        return _broken(request, "this link does not lead to a web page")
    await _record(p, request, "click", found.tracked, found)
    return Response(status_code=302, headers={"Location": found.url, **NOT_CACHED})


@_get_and_head(
    "/o/{token}.gif",
    "open_pixel",
    "The open pixel: record the open, answer a transparent 1x1 GIF",
    openapi.OPEN_TOKEN,
    openapi.OPEN_ANSWERS,
)
@observed("GET /o/{token}.gif")
async def pixel(request: Request) -> Response:
    p = parts(request)
    tracked = verify_open(p.link_keys, request.path_params["token"])
    if tracked is None:
        metrics.TRACKING_REFUSED.labels("open", "token").inc()
    else:
        await _record(p, request, "open", tracked)
    return Response(GIF, media_type=MEDIA_TYPE, headers=NOT_CACHED)
