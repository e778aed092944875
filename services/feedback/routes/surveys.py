"""`/s/<token>`: the CSAT or NPS survey a message links to, and the answer it records.

- `GET /s/<token>` (and HEAD): the survey, on the invitation's scale, with an optional comment.
  A GET never records anything: link scanners and mail previews follow GETs.
- `POST /s/<token>`: the page's form (score, comment, the page's nonce: surveys/form_nonce.py
  says why a forged one fails). A valid answer becomes `survey.answered` on
  `feedback.events.v1`, keyed by the invitation's customer, and the browser is sent on with
  303 See Other to `GET /s/<token>/thanks` (post/redirect/get: reloading the thank-you page
  posts nothing again, and going back shows a fresh form). A score off the scale, a missing
  or non-integer one, or a comment too long: the survey again, 422, with the error beside the
  field and what was typed kept.
- `GET /s/<token>/thanks` (and HEAD): the thank-you page, with a link to answer again (a later
  answer replaces the earlier one: records.py).

The token is checked before any body is read. A forged link gets a page that says the link is
not valid (404, no detail), an expired one a page that says the survey has closed (410). Every
answer is a page (text/html): a survey is for people.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from services.feedback import metrics
from services.feedback.directory import ContactRef
from services.feedback.parts import Parts, parts
from services.feedback.surveys import openapi, pages, records
from services.feedback.surveys.answers import (
    COMMENT_FIELD,
    NOTHING_ENTERED,
    SCORE_FIELD,
    Answer,
    AnswerRefused,
    Entered,
    normalise_comment,
    read_answer,
)
from services.feedback.surveys.form_nonce import FORM_FIELD, accept, issue
from services.feedback.surveys.invitation import InvalidSurveyLink, resolve
from services.feedback.unsubscribe.form_body import Fields, parse_form, single
from services.feedback.unsubscribe.pages import HEADERS
from services.feedback.unsubscribe.preference_form import FormRefused, check_origin
from shared.http import problems
from shared.http.body import read_capped
from shared.http.openapi import Answers
from shared.http.routes import DirectRoute, Handler, observing
from shared.publisher import BrokerUnavailable
from shared.survey_links import Expired, Invitation

log = logging.getLogger(__name__)
router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
FORM_MAX_BYTES = 64 * 1024
"""A comment at its limit is at most 12 KB URL-encoded (1,000 four-byte characters, each byte
as %XX); room above that, so that a comment too long is told so (422), not a 413."""
SURVEY = "survey.answered"


def _wall_clock() -> datetime:
    """A page's age is a person's time, not the (in demos, scaled) time events carry."""
    return datetime.now(UTC)


def as_pages(handler: Handler) -> Handler:
    """Every refusal as a page (errors name the field); HEAD as GET without the body."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            response = await handler(request)
        except problems.Problem as problem:
            response = pages.problem(
                problem.status, problem.detail, problem.errors, problem.headers
            )
        if request.method == "HEAD":
            return _without_body(response)
        return response

    return run


def _without_body(response: Response) -> Response:
    """What HEAD answers: GET's status and headers (its Content-Length too), no body."""
    headers = dict(response.headers)
    return Response(status_code=response.status_code, headers=headers)


def _invitation(p: Parts, request: Request) -> tuple[str, Invitation | Expired]:
    token: str = request.path_params["token"]
    try:
        return token, resolve(p.link_keys, token, p.clock.now())
    except InvalidSurveyLink as exc:
        log.debug("a survey link refused: %s", exc.reason)
        raise problems.from_status(404, "this survey link is not valid") from None


def _open(p: Parts, request: Request) -> tuple[str, Invitation]:
    token, found = _invitation(p, request)
    if isinstance(found, Expired):
        raise problems.from_status(410, "this survey has closed")
    return token, found


def _survey_page(
    p: Parts,
    token: str,
    invitation: Invitation,
    *,
    status: int = 200,
    entered: Entered = NOTHING_ENTERED,
    errors: list[problems.FieldError] | None = None,
    notice: str | None = None,
) -> Response:
    return pages.survey(
        kind=invitation.survey,
        shop=pages.shop_name(p.sms, invitation.shop_id),
        about_order=invitation.order_id is not None,
        action=f"/s/{token}",
        nonce=issue(p.link_keys, token, _wall_clock()),
        entered=entered,
        errors=errors,
        notice=notice,
        status=status,
    )


async def _form(p: Parts, request: Request) -> Fields:
    limit = min(FORM_MAX_BYTES, p.settings.max_body_bytes)
    with p.unverified.hold() as hold:
        body = await read_capped(request, limit, p.settings.body_timeout_s, hold)
    return parse_form(request.headers.get("content-type"), body)


def _entered(fields: Fields) -> Entered:
    """What the form held, for showing it again (the first value of each field)."""
    scores = fields.get(SCORE_FIELD) or []
    comment = (fields.get(COMMENT_FIELD) or [""])[0]
    return Entered(scores[0] if scores else None, normalise_comment(comment))


async def _language(p: Parts, invitation: Invitation) -> str | None:
    """The customer's locale when the directory knows it (None: the tagger takes the shop's
    default). Bounded: an answer is never held up, nor refused, for want of it."""
    ref = ContactRef(invitation.shop_id, invitation.customer_id)
    try:
        async with asyncio.timeout(p.settings.publish_timeout_s):
            contact = await p.directory.contact(ref)
    except Exception as exc:
        log.warning("the directory did not answer for %s: %r", ref, exc)
        return None
    return contact.locale if contact is not None else None


async def _tags(p: Parts, invitation: Invitation, answer: Answer) -> list[str]:
    if answer.comment is None:
        return []
    language = await _language(p, invitation)
    try:
        return p.tagger.tags(invitation.shop_id, language, answer.comment)
    except Exception:
        log.exception("tagging a comment of %s failed; recorded untagged", invitation.shop_id)
        return []


def page_route(
    path: str, name: str, summary: str, answers: Answers
) -> Callable[[Handler], Handler]:
    """GET and HEAD on one handler, each documented as an operation of its own."""

    def register(handler: Handler) -> Handler:
        for method in ("GET", "HEAD"):
            router.add_api_route(
                path,
                handler,
                methods=[method],
                operation_id=f"{name}_{method.lower()}",
                summary=summary,
                response_class=Response,
                openapi_extra={"parameters": [openapi.TOKEN], "responses": answers},
            )
        return handler

    return register


@page_route(
    "/s/{token}",
    "survey_page",
    "The survey a message links to (CSAT 1-5 or NPS 0-10, and a comment)",
    openapi.PAGE_ANSWERS,
)
@observed("GET /s/{token}")
@as_pages
async def survey_page(request: Request) -> Response:
    p = parts(request)
    token, invitation = _open(p, request)
    return _survey_page(p, token, invitation)


@router.post(
    "/s/{token}",
    summary="The survey's form: record the answer (a later one replaces it)",
    response_class=Response,
    status_code=303,
    openapi_extra={
        "parameters": [openapi.TOKEN],
        "requestBody": openapi.FORM_BODY,
        "responses": openapi.FORM_ANSWERS,
    },
)
@observed("POST /s/{token}")
@as_pages
async def answer(request: Request) -> Response:
    p = parts(request)
    token, invitation = _open(p, request)
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
    try:
        nonce = accept(p.link_keys, token, single(fields, FORM_FIELD), _wall_clock())
    except FormRefused as exc:
        if not exc.expired:
            raise problems.from_status(403, exc.reason) from None
        notice = "This page was open for a long time: please check your answer and send it again."
        entered = _entered(fields)
        return _survey_page(p, token, invitation, status=403, entered=entered, notice=notice)
    try:
        given = read_answer(fields, invitation.survey)
    except AnswerRefused as exc:
        return _survey_page(
            p, token, invitation, status=422, entered=exc.entered, errors=exc.errors
        )
    tags = await _tags(p, invitation, given)
    event = records.page_answer(invitation, given, nonce=nonce, tags=tags, now=p.clock.now())
    try:
        await p.publisher.publish([event])
    except BrokerUnavailable as exc:
        raise problems.unavailable(
            f"your answer is not recorded yet ({exc}); please send it again in a moment",
            p.settings.retry_after_s,
        ) from None
    metrics.EVENTS.labels(SURVEY).inc()
    return Response(status_code=303, headers={**HEADERS, "Location": f"/s/{token}/thanks"})


@page_route(
    "/s/{token}/thanks",
    "survey_thanks",
    "The thank-you page after an answer",
    openapi.THANKS_ANSWERS,
)
@observed("GET /s/{token}/thanks")
@as_pages
async def thanks(request: Request) -> Response:
    p = parts(request)
    token, found = _invitation(p, request)
    invitation = found.invitation if isinstance(found, Expired) else found
    again = None if isinstance(found, Expired) else f"/s/{token}"
    return pages.thanks(shop=pages.shop_name(p.sms, invitation.shop_id), again=again)
