"""What a submitted survey form says: a score on the invitation's scale and an optional comment.

Refusals name the field and keep what the customer typed, so the page can be shown again with
the error beside it (422) instead of losing a comment to a slip of the finger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.feedback.unsubscribe.form_body import Fields
from shared.events.feedback import SurveyKind
from shared.http.problems import FieldError

SCORE_FIELD = "score"
COMMENT_FIELD = "comment"
MAX_COMMENT_CHARS = 1000
"""Said on the page and set as the text area's `maxlength`; counted in characters (code
points) after line breaks are made single (browsers send CRLF, and count a line break once)."""
_DIGITS = re.compile(r"[0-9]{1,2}")


@dataclass(frozen=True)
class Scale:
    """The scores a kind of survey takes, and how the page words its ends."""

    low: int
    high: int
    low_label: str
    high_label: str

    def __contains__(self, score: int) -> bool:
        return self.low <= score <= self.high

    @property
    def scores(self) -> range:
        return range(self.low, self.high + 1)

    @property
    def wording(self) -> str:
        return f"a whole number from {self.low} to {self.high}"


SCALES = {
    SurveyKind.CSAT: Scale(1, 5, "Very dissatisfied", "Very satisfied"),
    SurveyKind.NPS: Scale(0, 10, "Not at all likely", "Extremely likely"),
}


@dataclass(frozen=True)
class Answer:
    score: int
    comment: str | None


@dataclass(frozen=True)
class Entered:
    """What the form held, as typed: shown again beside the errors."""

    score: str | None = None
    comment: str = ""


NOTHING_ENTERED = Entered()


class AnswerRefused(Exception):
    def __init__(self, errors: list[FieldError], entered: Entered) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors
        self.entered = entered


def _one(fields: Fields, name: str, errors: list[FieldError]) -> str | None:
    values = fields.get(name) or []
    if len(set(values)) > 1:
        errors.append(FieldError(name, "sent more than once with different values: give one"))
    return values[0] if values else None


def normalise_comment(text: str) -> str:
    """Line breaks as LF, surrounding whitespace trimmed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def read_answer(fields: Fields, kind: SurveyKind) -> Answer:
    """The answer the form gives; raises AnswerRefused naming every field that is wrong."""
    scale = SCALES[kind]
    errors: list[FieldError] = []
    raw_score = _one(fields, SCORE_FIELD, errors)
    comment = normalise_comment(_one(fields, COMMENT_FIELD, errors) or "")
    entered = Entered(raw_score, comment)
    score: int | None = None
    if not raw_score:
        errors.append(FieldError(SCORE_FIELD, f"required: choose {scale.wording}"))
    elif not _DIGITS.fullmatch(raw_score):
        errors.append(FieldError(SCORE_FIELD, f"not {scale.wording}"))
    elif int(raw_score) not in scale:
        errors.append(FieldError(SCORE_FIELD, f"out of range: choose {scale.wording}"))
    else:
        score = int(raw_score)
    if len(comment) > MAX_COMMENT_CHARS:
        errors.append(
            FieldError(
                COMMENT_FIELD,
                f"at most {MAX_COMMENT_CHARS:,} characters (this one has {len(comment):,})",
            )
        )
    if errors or score is None:
        raise AnswerRefused(errors, entered)
    return Answer(score, comment or None)
