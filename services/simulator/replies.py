"""How a simulated customer answers a message they received: a pure decision.

`replies_to` draws, for one customer and one message, what they do with it (follow a link,
answer its survey, text STOP, unsubscribe in one click) and how long after the message
reached them, from a random stream of their own seeded with the message id: the inbox that
performs the replies and the oracle that predicts their effects compute the same answers.
docs/SIMULATOR.md ("Replies") states the rules.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from services.simulator.population import Customer, customer

if TYPE_CHECKING:
    from services.simulator.command import Plan

EMAIL: Final = "email"
SMS: Final = "sms"


class ReplyKind(StrEnum):
    CLICK = "click"
    SURVEY = "survey"
    STOP = "stop"
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    delay: timedelta
    """Simulated time after the message reached the customer."""
    score: int | None = None
    """Survey answers only: the CSAT score, 1 to 5 (`nps_score` for a 0-10 survey)."""


@dataclass(frozen=True)
class _Delay:
    """A lognormal delay around `median`, kept within [`least`, `most`]."""

    median: timedelta
    sigma: float
    least: timedelta
    most: timedelta

    def draw(self, normal: float) -> timedelta:
        seconds = self.median.total_seconds() * math.exp(self.sigma * normal)
        bounded = min(max(seconds, self.least.total_seconds()), self.most.total_seconds())
        return timedelta(seconds=round(bounded))


DELAYS: Final = {
    ReplyKind.CLICK: _Delay(timedelta(minutes=45), 1.2, timedelta(minutes=1), timedelta(days=1)),
    ReplyKind.SURVEY: _Delay(timedelta(hours=3), 1.0, timedelta(minutes=5), timedelta(days=1)),
    ReplyKind.STOP: _Delay(timedelta(minutes=10), 1.0, timedelta(minutes=1), timedelta(hours=12)),
    ReplyKind.UNSUBSCRIBE: _Delay(timedelta(hours=1), 1.2, timedelta(minutes=2), timedelta(days=1)),
}
"""Per kind: people text STOP soon after the text, take a while to open and click, and
answer a survey when they have a moment; all within a day."""
CSAT_WEIGHTS: Final = ((1, 5), (2, 7), (3, 13), (4, 30), (5, 45))
"""Answers lean happy, as shops' CSAT answers do."""
NPS_FOR_CSAT: Final = {1: 1, 2: 4, 3: 7, 4: 8, 5: 10}
"""The same satisfaction on the 0-10 scale: detractors, passives and promoters alike."""


def _score(draw: float) -> int:
    total = sum(weight for _, weight in CSAT_WEIGHTS)
    pick = draw * total
    for score, weight in CSAT_WEIGHTS:
        pick -= weight
        if pick < 0:
            return score
    return CSAT_WEIGHTS[-1][0]


def nps_score(score: int) -> int:
    """A CSAT score (1-5) as the answer to an NPS survey (0-10)."""
    return NPS_FOR_CSAT[score]


def replies_to(
    customer: Customer, message_id: str, channel: str, *, survey: bool, links: bool
) -> tuple[Reply, ...]:
    """What `customer` does with message `message_id` received on `channel` ("email" or
    "sms"), in order of delay. `survey`: the message asks for a survey answer; `links`: it
    carries a link to follow. Every number is drawn whatever the arguments, in one order, so
    that each decision depends only on the message and the customer."""
    if channel not in (EMAIL, SMS):
        raise ValueError(f"channel must be {EMAIL!r} or {SMS!r}, not {channel!r}")
    rng = random.Random(f"{customer.seed}:{customer.shop}:{customer.index}:reply:{message_id}")
    draws = {kind: (rng.random(), rng.gauss(0.0, 1.0)) for kind in ReplyKind}
    score = _score(rng.random())
    chances = {
        ReplyKind.SURVEY: customer.survey_answer_probability if survey else 0.0,
        ReplyKind.STOP: customer.stop_reply_probability if channel == SMS else 0.0,
        ReplyKind.UNSUBSCRIBE: customer.unsubscribe_probability if channel == EMAIL else 0.0,
    }
    answers_survey = draws[ReplyKind.SURVEY][0] < chances[ReplyKind.SURVEY]
    # One visit through a message's links: a survey answer is reached through its link.
    chances[ReplyKind.CLICK] = 0.0 if answers_survey or not links else customer.click_probability
    replies = [
        Reply(
            kind,
            DELAYS[kind].draw(normal),
            score if kind is ReplyKind.SURVEY else None,
        )
        for kind, (uniform, normal) in draws.items()
        if uniform < chances[kind]
    ]
    return tuple(sorted(replies, key=lambda reply: reply.delay))


def bouncing_addresses(plan: Plan) -> list[str]:
    """The email addresses of the plan's customers whose mail bounces, for the SMTP sink's
    `reject` list (each is refused at RCPT, as a mailbox that does not exist)."""
    return [
        person.email.lower()
        for person in (
            customer(plan.seed, plan.shop_ids, index, plan.mix) for index in range(plan.customers)
        )
        if person.bounces
    ]
