"""The vocabulary of segment rules: every field a rule may name, with its type and how to read it.

A field's type decides what a rule may do with it (a number is compared with a number, a time is
tested with `within`, a flag stands alone); anything else is refused when the rule is compiled,
so a misspelt or misused field is an error in the file, never a rule that is silently false.
A value that is not known (no AOV without an order, no NPS answer yet, no RFM scores) reads
as None, and every comparison with it is false.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

from services.segmenter.profiles.apply import HANDLERS
from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Answer, Engagement
from services.segmenter.rules.errors import RuleError
from services.segmenter.rules.subject import Subject
from shared.events.shop import Channel


class Kind(StrEnum):
    NUMBER = "number"
    MONEY = "money"
    TEXT = "text"
    STAGE = "stage"
    TIME = "time"
    DURATION = "duration"
    FLAG = "flag"


Follows = Literal["stage", "rfm"] | None
"""Which value that moves with time a field reads (its answer may change without an event)."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    read: Callable[[Subject], Any]
    about: str
    follows: Follows = None

    def changes_at(self, subject: Subject) -> float | None:
        if self.follows == "stage":
            return subject.stage_changes_at
        if self.follows == "rfm":
            return subject.rfm_changes_at
        return None


CHANNELS: Final = tuple(channel.value for channel in Channel)
ALL_CHANNELS: Final = "messages"
"""`messages.clicked`, `messages.last_engaged`: the channels together."""
COUNTERS: Final = ("sent", "delivered", "opened", "clicked", "replied")
EVENT_TYPES: Final = frozenset(HANDLERS)
"""What `count(<type>, <window>)` may count: every event type a profile records."""
_NO_ENGAGEMENT: Final = Engagement()


def _interval(subject: Subject) -> float | None:
    days = subject.orders.repeat_interval_days
    return days * DAY_S if days is not None else None


def _rfm(letter: str) -> Callable[[Subject], int | None]:
    def read(subject: Subject) -> int | None:
        scores = subject.rfm
        return None if scores is None else int(getattr(scores, letter))

    return read


def _counter(channel: str, counter: str) -> Callable[[Subject], int]:
    def read(subject: Subject) -> int:
        return int(getattr(subject.profile.engagement.get(channel, _NO_ENGAGEMENT), counter))

    return read


def _last_engaged(channel: str) -> Callable[[Subject], float | None]:
    def read(subject: Subject) -> float | None:
        return subject.profile.engagement.get(channel, _NO_ENGAGEMENT).last_engaged_at

    return read


def _total(counter: str) -> Callable[[Subject], int]:
    def read(subject: Subject) -> int:
        return sum(int(getattr(e, counter)) for e in subject.profile.engagement.values())

    return read


def _last_engaged_anywhere(subject: Subject) -> float | None:
    times = [e.last_engaged_at for e in subject.profile.engagement.values()]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _consent(channel: str) -> Callable[[Subject], bool]:
    def read(subject: Subject) -> bool:
        return subject.profile.consent.get(channel) is True

    return read


def _score(survey: str) -> Callable[[Subject], int | None]:
    def read(subject: Subject) -> int | None:
        answer: Answer | None = getattr(subject.profile, survey)
        return None if answer is None else answer.score

    return read


def _answered(survey: str) -> Callable[[Subject], float | None]:
    def read(subject: Subject) -> float | None:
        answer: Answer | None = getattr(subject.profile, survey)
        return None if answer is None else answer.at

    return read


def _fields() -> dict[str, Field]:
    found = [
        Field("orders", Kind.NUMBER, lambda s: s.orders.orders, "orders placed, not cancelled"),
        Field(
            "revenue", Kind.MONEY, lambda s: s.orders.revenue, "net revenue (LTV), shop currency"
        ),
        Field("aov", Kind.MONEY, lambda s: s.orders.aov, "average order value, shop currency"),
        Field("repeat_interval", Kind.DURATION, _interval, "median time between orders"),
        Field("first_order", Kind.TIME, lambda s: s.orders.first_order_at, "first order"),
        Field("last_order", Kind.TIME, lambda s: s.orders.last_order_at, "last order"),
        Field(
            "first_seen", Kind.TIME, lambda s: s.profile.first_seen_at, "first event of any kind"
        ),
        Field(
            "last_activity",
            Kind.TIME,
            lambda s: s.profile.last_activity_at,
            "last thing the customer did (a view, a cart, an order, an open, a click, a reply)",
        ),
        Field("lifecycle", Kind.STAGE, lambda s: s.stage, "lifecycle stage", follows="stage"),
        Field("nps", Kind.NUMBER, _score("nps"), "latest NPS answer, 0-10"),
        Field("csat", Kind.NUMBER, _score("csat"), "latest CSAT answer, 1-5"),
        Field("nps.answered", Kind.TIME, _answered("nps"), "when the latest NPS answer came"),
        Field("csat.answered", Kind.TIME, _answered("csat"), "when the latest CSAT answer came"),
        Field("locale", Kind.TEXT, lambda s: s.profile.locale, "locale, e.g. de-DE"),
        Field("time_zone", Kind.TEXT, lambda s: s.profile.time_zone, "IANA time zone"),
    ]
    for letter, about in (("r", "recency"), ("f", "frequency"), ("m", "monetary")):
        found.append(
            Field(f"rfm.{letter}", Kind.NUMBER, _rfm(letter), f"RFM {about} score 1-5", "rfm")
        )
    for channel in CHANNELS:
        for counter in COUNTERS:
            name = f"{channel}.{counter}"
            found.append(Field(name, Kind.NUMBER, _counter(channel, counter), f"{counter} count"))
        found.append(
            Field(
                f"{channel}.last_engaged",
                Kind.TIME,
                _last_engaged(channel),
                "last open/click/reply",
            )
        )
        found.append(Field(f"consent.{channel}", Kind.FLAG, _consent(channel), "consent given"))
    for counter in COUNTERS:
        name = f"{ALL_CHANNELS}.{counter}"
        found.append(Field(name, Kind.NUMBER, _total(counter), f"{counter}, all channels"))
    found.append(
        Field(
            f"{ALL_CHANNELS}.last_engaged",
            Kind.TIME,
            _last_engaged_anywhere,
            "last open/click/reply, any channel",
        )
    )
    return {field.name: field for field in found}


FIELDS: Final = _fields()

HAS: Final[dict[str, Callable[[Subject], bool]]] = {
    "email": lambda s: s.profile.email,
    "phone": lambda s: s.profile.phone,
    "birthday": lambda s: s.profile.birthday is not None,
}
"""What `has <x>` asks beside the fields: whether the profile knows the customer's email
address, phone number, birthday. `has <field>` asks whether a field is known (`has aov`,
`has nps`, `has email.last_engaged`)."""


def field(name: str, column: int | None) -> Field:
    """The field called `name`, or a RuleError that says why there is none."""
    found = FIELDS.get(name)
    if found is not None:
        return found
    head, _, tail = name.partition(".")
    if tail and (tail in COUNTERS or tail == "last_engaged"):
        raise RuleError(
            f"unknown channel '{head}' (channels: {', '.join(CHANNELS)}, or {ALL_CHANNELS} "
            "for all of them)",
            column,
            name,
        )
    if head == "consent" and tail:
        raise RuleError(f"unknown channel '{tail}' (channels: {', '.join(CHANNELS)})", column, name)
    if name in EVENT_TYPES:
        raise RuleError(
            f"'{name}' is an event type: count it, e.g. count({name}, 30d) > 2", column, name
        )
    raise RuleError(f"unknown field '{name}'{_suggestion(name, FIELDS)}", column, name)


def known(name: str, column: int | None) -> Field:
    """The field of `has <name>` when `name` is not one of HAS: any field but a flag."""
    if name not in FIELDS:
        raise RuleError(
            f"unknown field '{name}' (has: {', '.join(HAS)} or a field)"
            f"{_suggestion(name, [*FIELDS, *HAS])}",
            column,
            name,
        )
    target = FIELDS[name]
    if target.kind is Kind.FLAG:
        raise RuleError(f"{name} is yes or no: write `{name}` (not has {name})", column, name)
    return target


def event_type(name: str, column: int | None) -> str:
    if name not in EVENT_TYPES:
        raise RuleError(
            f"unknown event type '{name}'{_suggestion(name, EVENT_TYPES)}", column, name
        )
    return name


def _suggestion(name: str, known: object) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)  # type: ignore[call-overload]
    return f" (did you mean '{close[0]}'?)" if close else ""
