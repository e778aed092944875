"""A text that answers a survey: the strict rule for reading a bare number as a score.

A text is a survey answer only when the last SMS sent to the contact asked for one (its trigger
carried `survey`, services/feedback/directory/), it came within SMS_ANSWER_WINDOW of that SMS,
and its whole text, trimmed, is:

- one or two ASCII digits whose value is on the survey's scale (CSAT 1-5, NPS 0-10): `5`,
  ` 4 `, `10`;
- optionally followed by a slash and the scale's top: `4/5` for CSAT, `9/10` or `9 / 10` for
  NPS (`4/10` to a CSAT question is not an answer on its scale).

Anything else (`5 stars`, `9 out of 10`, `four`, `4.5`, `-1`, `5!`, `4/5 but late`) stays a
`reply.received`, whose free text a person or the tagger reads: a guess would put a number in
the customer's mouth.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from services.feedback.directory import SentMessage
from services.feedback.surveys.answers import SCALES
from shared.events.feedback import SurveyKind

SMS_ANSWER_WINDOW = timedelta(days=30)
"""As long as a survey link stays open (dispatch's default invitation expiry)."""
_BARE = re.compile(r"([0-9]{1,2})(?:\s*/\s*([0-9]{1,2}))?")


def score_in_text(text: str, kind: SurveyKind) -> int | None:
    """The score `text` gives on `kind`'s scale, or None when it is not a bare score."""
    found = _BARE.fullmatch(text.strip())
    if found is None:
        return None
    scale = SCALES[kind]
    score, top = int(found.group(1)), found.group(2)
    if top is not None and int(top) != scale.high:
        return None
    return score if score in scale else None


def answer_to(asked: SentMessage | None, text: str, now: datetime) -> int | None:
    """The score `text` gives to the survey `asked` (the last SMS to the contact) asked for,
    or None: that SMS asked for none, too long ago, or the text is not a bare score."""
    if asked is None or asked.survey is None or now - asked.sent_at > SMS_ANSWER_WINDOW:
        return None
    return score_in_text(text, asked.survey)
