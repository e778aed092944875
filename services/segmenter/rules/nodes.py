"""Compiled rules: a small tree of predicates, each answering (matched, changes_at) fast and
explaining itself in words only when asked.

`test(subject, now, arg)` returns whether the predicate holds and the earliest moment its
answer can change without a new event (None: only an event can change it); `arg` is the
category or brand a template is expanded for ("" otherwise). `explain` states the facts that
decided, in words that are true whatever the answer (`revenue 120.00 < 500`), so that `and`,
`or` and `not` only have to pick which facts to show.

How `and` / `or` / `not` combine the moments (never late, as exact as cheap):
- `a and b` true: it turns false when the first part does: the earliest of the parts' moments;
- `a and b` false: it cannot turn true before every false part has: the latest of the false
  parts' moments, and never (None) when one of them never changes;
- `or` is the mirror image; `not` keeps its part's moment.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Tally
from services.segmenter.rules.fields import Field, Kind
from services.segmenter.rules.spans import Span, show
from services.segmenter.rules.subject import Subject

Outcome = tuple[bool, float | None]

OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OPPOSITE: Final = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def shown(value: object) -> str:
    """A value as reasons show it."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def times(count: int) -> str:
    return "1 time" if count == 1 else f"{count} times"


def _ago(now: float, at: float) -> str:
    return "in the future" if at > now else f"{show(now - at)} ago"


class Node:
    __slots__ = ()

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        raise NotImplementedError

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        """The facts that decided, each true as stated."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class All(Node):
    parts: tuple[Node, ...]

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        matched = True
        earliest: float | None = None
        latest: float | None = None
        for part in self.parts:
            ok, at = part.test(subject, now, arg)
            if ok:
                if at is not None and matched and (earliest is None or at < earliest):
                    earliest = at
            elif at is None:
                return False, None
            else:
                matched = False
                if latest is None or at > latest:
                    latest = at
        return (True, earliest) if matched else (False, latest)

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        answers = [(part, part.test(subject, now, arg)[0]) for part in self.parts]
        matched = all(ok for _, ok in answers)
        return _joined(p.explain(subject, now, arg) for p, ok in answers if ok == matched)


@dataclass(frozen=True, slots=True)
class Any_(Node):
    parts: tuple[Node, ...]

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        matched = False
        earliest: float | None = None
        latest: float | None = None
        for part in self.parts:
            ok, at = part.test(subject, now, arg)
            if not ok:
                if at is not None and not matched and (earliest is None or at < earliest):
                    earliest = at
            elif at is None:
                return True, None
            else:
                matched = True
                if latest is None or at > latest:
                    latest = at
        return (True, latest) if matched else (False, earliest)

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        answers = [(part, part.test(subject, now, arg)[0]) for part in self.parts]
        matched = any(ok for _, ok in answers)
        return _joined(p.explain(subject, now, arg) for p, ok in answers if ok == matched)


def _joined(groups: Any) -> list[str]:
    facts: list[str] = []
    for group in groups:
        facts.extend(fact for fact in group if fact not in facts)
    return facts


@dataclass(frozen=True, slots=True)
class Not(Node):
    part: Node

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        ok, at = self.part.test(subject, now, arg)
        return not ok, at

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        return self.part.explain(subject, now, arg)


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """`field op value` (and `is`, `is not`); false whatever `op` when the field is unknown."""

    field: Field
    op: str
    value: Any
    check: Callable[[Any, Any], bool] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", OPERATORS[self.op])

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        value = self.field.read(subject)
        moment = self.field.changes_at(subject) if self.field.follows else None
        if value is None:
            return False, moment
        return self.check(value, self.value), moment

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        value = self.field.read(subject)
        if value is None:
            return [f"{self.field.name} unknown"]
        op = self.op if self.check(value, self.value) else OPPOSITE[self.op]
        return [
            f"{self.field.name} {_value(self.field, value)} {op} {_value(self.field, self.value)}"
        ]


def _value(of: Field, value: Any) -> str:
    return show(value) if of.kind is Kind.DURATION else shown(value)


@dataclass(frozen=True, slots=True)
class OneOf(Node):
    field: Field
    values: tuple[Any, ...]

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        value = self.field.read(subject)
        moment = self.field.changes_at(subject) if self.field.follows else None
        return value is not None and value in self.values, moment

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        value = self.field.read(subject)
        if value is None:
            return [f"{self.field.name} unknown"]
        listed = f"[{', '.join(shown(v) for v in self.values)}]"
        verb = "in" if value in self.values else "not in"
        return [f"{self.field.name} {shown(value)} {verb} {listed}"]


@dataclass(frozen=True, slots=True)
class StartsWith(Node):
    field: Field
    prefix: str

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        value = self.field.read(subject)
        return value is not None and str(value).startswith(self.prefix), None

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        value = self.field.read(subject)
        if value is None:
            return [f"{self.field.name} unknown"]
        verb = "starts" if str(value).startswith(self.prefix) else "does not start"
        return [f"{self.field.name} {shown(value)} {verb} with {shown(self.prefix)}"]


@dataclass(frozen=True, slots=True)
class Flag(Node):
    name: str
    read: Callable[[Subject], bool]
    no: str
    """How the fact reads when false (`no consent.sms`, `no phone`)."""

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        return bool(self.read(subject)), None

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        return [self.name if self.read(subject) else self.no]


@dataclass(frozen=True, slots=True)
class Known(Node):
    """`has <field>`: the field's value is known (an AOV, an NPS answer, RFM scores)."""

    field: Field

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        moment = self.field.changes_at(subject) if self.field.follows else None
        return self.field.read(subject) is not None, moment

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        known = self.field.read(subject) is not None
        return [f"has {self.field.name}" if known else f"no {self.field.name}"]


def _within(at: float | None, span: Span, subject: Subject, now: float) -> Outcome:
    if at is None:
        return False, None
    length = span.seconds(subject)
    if length is None:  # refused when compiled (`may_be_unknown`); kept false to be safe
        return False, None
    end = at + length
    return (True, end) if now < end else (False, None)


@dataclass(frozen=True, slots=True)
class Within(Node):
    """`time within span`: the time is less than `span` before `now` (or after it). It turns
    false at `time + span` exactly; once false, only an event can make it true again."""

    field: Field
    span: Span

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        return _within(self.field.read(subject), self.span, subject, now)

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        at = self.field.read(subject)
        if at is None:
            return [f"no {self.field.name}"]
        verb = "within" if _within(at, self.span, subject, now)[0] else "not within"
        return [f"{self.field.name} {_ago(now, at)}, {verb} {self.span.explain(subject)}"]


@dataclass(frozen=True, slots=True)
class ActivityCount(Node):
    """`count(type, Nd) op value`: events of `type` on the last N UTC days, today included
    (events dated ahead of the clock count too). A day's events leave the window when the day
    is N days old, at midnight UTC: the moment given is the first such midnight at which the
    comparison turns."""

    kind: str
    days: int
    op: str
    value: Decimal
    check: Callable[[Any, Any], bool] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", OPERATORS[self.op])

    def _inside(self, subject: Subject, now: float) -> list[tuple[int, int]]:
        per_day = subject.profile.activity.get(self.kind)
        if not per_day:
            return []
        first = int(now // DAY_S) - self.days + 1
        return [(day, count) for day, count in per_day.items() if day >= first]

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        inside = self._inside(subject, now)
        total = sum(count for _, count in inside)
        matched = self.check(total, self.value)
        if not inside:
            return matched, None
        inside.sort()
        left = total
        for day, count in inside:
            left -= count
            if self.check(left, self.value) != matched:
                return matched, (day + self.days) * DAY_S
        return matched, None

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        total = sum(count for _, count in self._inside(subject, now))
        op = self.op if self.check(total, self.value) else OPPOSITE[self.op]
        return [f"{self.kind} {times(total)} in {self.days}d {op} {self.value}"]


@dataclass(frozen=True, slots=True)
class TallyRef:
    """`bought category "coffee"` and its kin: which list, and which name (None: the
    template's own category or brand)."""

    source: str
    """The profile's field: categories_bought, categories_viewed, brands_bought, brands_viewed."""
    label: str
    """`bought category`, `viewed brand`..."""
    name: str | None

    def tally(self, subject: Subject, arg: str) -> Tally | None:
        tallies: dict[str, Tally] = getattr(subject.profile, self.source)
        return tallies.get(self.name if self.name is not None else arg)

    def shown(self, arg: str) -> str:
        return f"{self.label} {shown(self.name if self.name is not None else arg)}"

    def never(self, arg: str) -> str:
        return f"never {self.shown(arg)}"


@dataclass(frozen=True, slots=True)
class TallyHas(Node):
    ref: TallyRef

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        return self.ref.tally(subject, arg) is not None, None

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        found = self.ref.tally(subject, arg)
        if found is None:
            return [self.ref.never(arg)]
        return [f"{self.ref.shown(arg)} {times(found.count)}"]


@dataclass(frozen=True, slots=True)
class TallyWithin(Node):
    ref: TallyRef
    span: Span

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        found = self.ref.tally(subject, arg)
        return _within(found.last_at if found else None, self.span, subject, now)

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        found = self.ref.tally(subject, arg)
        if found is None:
            return [self.ref.never(arg)]
        verb = "within" if _within(found.last_at, self.span, subject, now)[0] else "not within"
        span = self.span.explain(subject)
        return [f"{self.ref.shown(arg)} {_ago(now, found.last_at)}, {verb} {span}"]


@dataclass(frozen=True, slots=True)
class TallyCount(Node):
    ref: TallyRef
    op: str
    value: Decimal
    check: Callable[[Any, Any], bool] = dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", OPERATORS[self.op])

    def _count(self, subject: Subject, arg: str) -> int:
        found = self.ref.tally(subject, arg)
        return found.count if found is not None else 0

    def test(self, subject: Subject, now: float, arg: str) -> Outcome:
        return self.check(self._count(subject, arg), self.value), None

    def explain(self, subject: Subject, now: float, arg: str) -> list[str]:
        count = self._count(subject, arg)
        op = self.op if self.check(count, self.value) else OPPOSITE[self.op]
        return [f"{self.ref.shown(arg)} {times(count)} {op} {self.value}"]
