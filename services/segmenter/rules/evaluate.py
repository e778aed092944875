"""Compiled segment rules and their answers for one customer at one moment.

`compile_rule` turns a segment's id and `when:` text into a `Rule` (compiled once, at load);
`evaluate(rule, subject, now)` answers a plain rule, `expand(rule, subject, now)` a template,
one answer per category or brand. A `Verdict` says whether the customer is in, the earliest
moment the answer can change without a new event (`changes_at`, None: only an event can
change it; it may be early, never late), and why (`reason`, at most MAX_REASON characters,
worded only when read: most verdicts change nothing and nobody reads them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from services.segmenter.profiles.model import Membership
from services.segmenter.rules.compiler import compile_when
from services.segmenter.rules.nodes import Node
from services.segmenter.rules.subject import Subject
from services.segmenter.rules.templates import Template, template_of

MAX_REASON: Final = 500
"""SegmentChange.reason's limit."""


class Verdict:
    """matched, changes_at and a reason worded on first read."""

    __slots__ = ("_arg", "_node", "_now", "_reason", "_subject", "changes_at", "matched")

    def __init__(
        self,
        matched: bool,
        changes_at: float | None,
        reason: str | None = None,
        *,
        node: Node | None = None,
        subject: Subject | None = None,
        now: float = 0.0,
        arg: str = "",
    ) -> None:
        self.matched = matched
        self.changes_at = changes_at
        self._reason = reason
        self._node = node
        self._subject = subject
        self._now = now
        self._arg = arg

    @property
    def reason(self) -> str:
        if self._reason is None:
            assert self._node is not None and self._subject is not None
            facts = self._node.explain(self._subject, self._now, self._arg)
            self._reason = _capped(" and ".join(facts))
            self._node = self._subject = None
        return self._reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return (self.matched, self.changes_at, self.reason) == (
            other.matched,
            other.changes_at,
            other.reason,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Verdict({self.matched}, {self.changes_at}, {self.reason!r})"


def _capped(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


@dataclass(frozen=True, slots=True)
class Rule:
    segment_id: str
    """The segment's id; for a template, the pattern (`fan-{category}`)."""
    when: str
    version: int = 1
    description: str = ""
    fingerprint: str = field(default="", compare=False)
    """A digest of the compiled text (not of its spacing) and the language version: when it
    changes, the rule's answers may have changed."""
    template: Template | None = None
    node: Node = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    sources: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


def compile_rule(segment_id: str, when: str, version: int = 1, description: str = "") -> Rule:
    """Raises ValueError for a malformed id, RuleError for a rule that cannot be compiled."""
    template = template_of(segment_id)
    compiled = compile_when(when, template.placeholder if template else None)
    return Rule(
        segment_id,
        when,
        version,
        description,
        compiled.fingerprint,
        template,
        compiled.node,
        compiled.sources,
    )


def evaluate(rule: Rule, subject: Subject, now: float) -> Verdict:
    """A plain rule's answer (a template's: `expand`)."""
    if rule.template is not None:
        raise ValueError(f"{rule.segment_id} is a template: expand it")
    matched, changes_at = rule.node.test(subject, now, "")
    return Verdict(matched, changes_at, node=rule.node, subject=subject, now=now)


def expand(
    rule: Rule,
    subject: Subject,
    now: float,
    memberships: Mapping[str, Membership] | None = None,
) -> dict[str, Verdict]:
    """A template's answers: one per segment id of the names in the lists its rule reads, and
    a `False` one for each of `memberships` (default: the profile's) it owns that no name
    gives any more (the name left the bounded list), so that the worker ends it."""
    template = rule.template
    if template is None:
        raise ValueError(f"{rule.segment_id} is not a template")
    profile = subject.profile
    names: set[str] = set()
    for source in rule.sources:
        names.update(getattr(profile, source))
    found: dict[str, Verdict] = {}
    for name in sorted(names):
        member_id = template.member_id(name)
        matched, changes_at = rule.node.test(subject, now, name)
        verdict = Verdict(matched, changes_at, node=rule.node, subject=subject, now=now, arg=name)
        known = found.get(member_id)
        found[member_id] = verdict if known is None else _either(known, verdict)
    held = profile.segments if memberships is None else memberships
    for segment_id in held:
        if segment_id not in found and template.owns(segment_id):
            found[segment_id] = Verdict(False, None, f"no {template.placeholder} for {segment_id}")
    return found


def _either(one: Verdict, other: Verdict) -> Verdict:
    """Two names with one slug: in when either is (moments combined as `or` does)."""
    if one.matched and other.matched:
        if one.changes_at is None or other.changes_at is None:
            return one if one.changes_at is None else other
        return one if one.changes_at >= other.changes_at else other
    if one.matched or other.matched:
        return one if one.matched else other
    times = [t for t in (one.changes_at, other.changes_at) if t is not None]
    earliest = min(times) if times else None
    return Verdict(False, earliest, f"{one.reason} and {other.reason}"[:MAX_REASON])
