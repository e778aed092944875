"""CSAT and NPS, as pure functions over survey answers: what reports compute.

- CSAT: the share of CSAT answers that are 4 or 5, in percent (0 to 100).
- NPS: the percentage of promoters (9 or 10) minus the percentage of detractors (0 to 6) among
  NPS answers (-100 to 100); passives (7, 8) count in the total only.

Only the latest answer per invitation counts (the rule on `SurveyAnswered`: latest envelope
time, ties to the greater event id; one event id counted once): a customer who changed their
mind counts once, with their last word. No answer: None, not a zero nobody gave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.events.feedback import SurveyAnsweredEvent, SurveyKind

PROMOTERS = range(9, 11)
DETRACTORS = range(0, 7)
SATISFIED = range(4, 6)


@dataclass(frozen=True)
class Scored:
    """One answer as reports hold it."""

    invitation: str
    """What was answered: the message that asked (its id), one answer counting per message."""
    survey: SurveyKind
    score: int
    at: datetime
    event_id: str


def scored(event: SurveyAnsweredEvent) -> Scored:
    """An answer record as `Scored`; one that names no message is its own invitation (every
    answer this service publishes names one)."""
    message = event.data.message
    invitation = message.message_id if message and message.message_id else f"event:{event.id}"
    return Scored(invitation, event.data.survey, event.data.score, event.time, event.id)


def latest_per_invitation(answers: Iterable[Scored]) -> list[Scored]:
    """Each invitation's answer that counts: the latest by time, then by event id."""
    latest: dict[str, Scored] = {}
    for answer in answers:
        held = latest.get(answer.invitation)
        if held is None or (answer.at, answer.event_id) > (held.at, held.event_id):
            latest[answer.invitation] = answer
    return list(latest.values())


def _counted(answers: Iterable[Scored], kind: SurveyKind) -> list[int]:
    return [a.score for a in latest_per_invitation(a for a in answers if a.survey is kind)]


def csat(answers: Iterable[Scored]) -> float | None:
    """Percent of CSAT answers that are 4 or 5; None without any."""
    scores = _counted(answers, SurveyKind.CSAT)
    if not scores:
        return None
    return 100 * sum(1 for s in scores if s in SATISFIED) / len(scores)


def nps(answers: Iterable[Scored]) -> float | None:
    """Percent promoters minus percent detractors among NPS answers; None without any."""
    scores = _counted(answers, SurveyKind.NPS)
    if not scores:
        return None
    promoters = sum(1 for s in scores if s in PROMOTERS)
    detractors = sum(1 for s in scores if s in DETRACTORS)
    return 100 * (promoters - detractors) / len(scores)
