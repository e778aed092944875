"""The pages a customer sees behind `/s/<token>`: the survey, the thank-you page, and what a
closed or broken link shows.

Rendered on the server like the preference pages (services/feedback/unsubscribe/pages.py:
autoescaping, the same security headers, no script, no external asset, inline styles only),
with native radio buttons in a fieldset and a legend (reachable and operable by keyboard,
read out by screen readers with their scale), labels on every control, and a layout that
wraps rather than scrolls sideways on a phone.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import HTMLResponse

from services.feedback.sms.profiles import SmsProfiles
from services.feedback.surveys.answers import (
    COMMENT_FIELD,
    MAX_COMMENT_CHARS,
    NOTHING_ENTERED,
    SCALES,
    SCORE_FIELD,
    Entered,
)
from services.feedback.surveys.form_nonce import FORM_FIELD
from services.feedback.unsubscribe import pages
from shared.events.feedback import SurveyKind
from shared.http.problems import FieldError

_CSAT_WORDS = {
    1: "Very dissatisfied",
    2: "Dissatisfied",
    3: "Neither satisfied nor dissatisfied",
    4: "Satisfied",
    5: "Very satisfied",
}
_FIELD_LABELS = {SCORE_FIELD: "Your score", COMMENT_FIELD: "Your comment"}


def shop_name(profiles: SmsProfiles, shop_id: str) -> str:
    """How the page names the shop: its name in its feedback file (`sms.brand`) when it
    gives one, else its id title-cased (`demo-coffee` → `Demo Coffee`, `4ever` stays)."""
    profile = profiles.shops.get(shop_id)
    if profile is not None and profile.brand != profiles.deployment.brand:
        return profile.brand
    words = shop_id.replace("_", "-").split("-")
    return " ".join(word[:1].upper() + word[1:] for word in words if word)


@dataclass(frozen=True)
class Option:
    value: int
    words: str | None
    checked: bool


@dataclass(frozen=True)
class ShownError:
    field: str
    label: str
    reason: str


def _shown(errors: list[FieldError]) -> list[ShownError]:
    return [ShownError(e.field, _FIELD_LABELS.get(e.field, e.field), e.reason) for e in errors]


def _question(kind: SurveyKind, shop: str, about_order: bool) -> str:
    if kind is SurveyKind.NPS:
        return f"How likely are you to recommend {shop} to a friend or colleague?"
    if about_order:
        return f"How satisfied are you with your order from {shop}?"
    return f"How satisfied are you with {shop}?"


def _options(kind: SurveyKind, checked: str | None) -> list[Option]:
    scale = SCALES[kind]
    options = []
    for value in scale.scores:
        if kind is SurveyKind.CSAT:
            words: str | None = _CSAT_WORDS[value]
        else:
            words = {scale.low: scale.low_label, scale.high: scale.high_label}.get(value)
        options.append(Option(value, words, checked == str(value)))
    return options


def survey(
    *,
    kind: SurveyKind,
    shop: str,
    about_order: bool,
    action: str,
    nonce: str,
    entered: Entered = NOTHING_ENTERED,
    errors: list[FieldError] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The survey form (again, with what was entered, when `errors` or `notice` say why)."""
    scale = SCALES[kind]
    shown = _shown(errors or [])
    by_field = {e.field: e.reason for e in shown}
    return pages.render(
        "survey.html.j2",
        status,
        title=f"Your opinion of {shop}",
        shop=shop,
        kind=kind.value,
        question=_question(kind, shop, about_order),
        scale=scale,
        options=_options(kind, entered.score),
        comment=entered.comment,
        max_comment=MAX_COMMENT_CHARS,
        score_field=SCORE_FIELD,
        comment_field=COMMENT_FIELD,
        form_field=FORM_FIELD,
        nonce=nonce,
        action=action,
        errors=shown,
        score_error=by_field.get(SCORE_FIELD),
        comment_error=by_field.get(COMMENT_FIELD),
        notice=notice,
    )


def thanks(*, shop: str, again: str | None) -> HTMLResponse:
    """The thank-you page; `again`: where to answer again (None once the survey closed)."""
    return pages.render("survey_thanks.html.j2", title="Thank you", shop=shop, again=again)


TITLES = {
    404: "This link does not work",
    410: "This survey has closed",
    403: "This answer cannot be accepted",
    503: "Please try again in a moment",
}
_FIXED_DETAILS = {
    404: "This survey link is not valid. Please use the link in the message you received.",
    410: "Thank you for wanting to answer: this survey is closed now.",
}
"""Statuses whose page says no more than this: a forged link learns nothing of why."""


def problem(
    status: int, detail: str, errors: list[FieldError], headers: dict[str, str]
) -> HTMLResponse:
    """What a refused request shows (errors name the field)."""
    text = _FIXED_DETAILS.get(status) or detail[:1].upper() + detail[1:]
    shown = _shown(errors)
    page = pages.render(
        "survey_problem.html.j2",
        status,
        title=TITLES.get(status, "Something is wrong with this answer"),
        detail=text,
        errors=[] if status in _FIXED_DETAILS else shown,
    )
    page.headers.update(headers)
    return page
