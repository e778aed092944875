"""Which segments a customer entered or left: the pure decision between two evaluations.

`decide` compares the verdicts of the shop's rules with the memberships the profile holds and
returns the new memberships and one `Change` per entry or exit. Each change carries the number
of the customer's entry into that segment (1 for the first), kept in the profile: the change's
id derives from it, so a replay after a crash (the profile is stored only once the changes are
acknowledged) emits the same ids, and a customer who leaves and comes back gets a new one.

A membership whose rule was removed from the shop's file ends with reason `rule removed`.
A membership whose rule changed version stays, under the new version, when the new rule still
matches; no change is emitted for the version alone (only real changes are news).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from services.segmenter.profiles.model import Membership


class Verdict(Protocol):
    """A rule's answer for one customer (services/segmenter/rules/evaluate.py)."""

    @property
    def matched(self) -> bool: ...

    @property
    def changes_at(self) -> float | None: ...

    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Change:
    segment_id: str
    entered: bool
    entry: int
    rule_version: int
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    memberships: dict[str, Membership]
    entries: dict[str, int]
    changes: tuple[Change, ...]


def decide(
    memberships: Mapping[str, Membership],
    entries: Mapping[str, int],
    verdicts: Mapping[str, Verdict],
    versions: Mapping[str, int],
    now: float,
) -> Outcome:
    """`verdicts` and `versions`: per segment id the shop defines now (same keys)."""
    kept: dict[str, Membership] = {}
    counted = dict(entries)
    changes: list[Change] = []
    for segment_id, member in memberships.items():
        verdict = verdicts.get(segment_id)
        if verdict is None:
            changes.append(
                Change(
                    segment_id,
                    False,
                    counted.get(segment_id, 1),
                    member.rule_version,
                    "rule removed",
                )
            )
        elif not verdict.matched:
            changes.append(
                Change(
                    segment_id,
                    False,
                    counted.get(segment_id, 1),
                    versions[segment_id],
                    verdict.reason,
                )
            )
        else:
            version = versions[segment_id]
            kept[segment_id] = (
                member if member.rule_version == version else Membership(member.since, version)
            )
    for segment_id, verdict in verdicts.items():
        if verdict.matched and segment_id not in memberships:
            counted[segment_id] = counted.get(segment_id, 0) + 1
            kept[segment_id] = Membership(now, versions[segment_id])
            changes.append(
                Change(segment_id, True, counted[segment_id], versions[segment_id], verdict.reason)
            )
    return Outcome(kept, counted, tuple(changes))


def next_change_at(verdicts: Mapping[str, Verdict]) -> float | None:
    """The earliest moment any verdict may change by time alone."""
    times = [v.changes_at for v in verdicts.values() if v.changes_at is not None]
    return min(times) if times else None
