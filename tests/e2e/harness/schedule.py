"""Which faults a scenario causes, on what, when and for how long: a pure function of the
scenario and a seed, so that a run's faults can be replayed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class Scenario(StrEnum):
    NONE = "none"
    SIGKILL = "sigkill"
    BROKER = "broker"
    POSTGRES = "postgres"
    SMTP = "smtp"
    SMS = "sms"
    SLOW = "slow"
    POISON = "poison"
    DUPLICATES = "duplicates"
    ALL = "all"


KILLABLE = (
    "ingest",
    "triggers",
    "segmenter",
    "segmenter-api",
    "dispatch-intake",
    "dispatch-sender",
    "feedback",
)
"""Every service process; the sinks stand for providers and fail in their own ways."""
SHORT_KILLS = ("dispatch-sender", "triggers")
SLOW_TARGET = "triggers"
"""The worker paused by the slow-consumer fault: the busiest consumer of shop.events.v1."""


@dataclass(frozen=True)
class Durations:
    """How long the faults that last last, in wall seconds."""

    smtp_outage_s: float = 60.0
    sms_errors_s: float = 30.0
    slow_consumer_s: float = 30.0

    @classmethod
    def short(cls) -> Durations:
        return cls(smtp_outage_s=8.0, sms_errors_s=6.0, slow_consumer_s=6.0)


@dataclass(frozen=True)
class PlannedFault:
    kind: str
    """sigkill, broker_restart, postgres_restart, smtp_outage, sms_errors, slow_consumer,
    poison, duplicate_burst (tests.e2e.model.Fault kinds)."""
    target: str
    at_s: float
    """Wall seconds after the load's start."""
    duration_s: float = 0.0
    """How long the harness holds it (restarts last as long as they take)."""


def _faults(scenario: Scenario, durations: Durations, short: bool) -> list[tuple[str, str, float]]:
    kills = SHORT_KILLS if short else KILLABLE
    by_scenario: dict[Scenario, list[tuple[str, str, float]]] = {
        Scenario.SIGKILL: [("sigkill", name, 0.0) for name in kills],
        Scenario.BROKER: [("broker_restart", "kafka", 0.0)],
        Scenario.POSTGRES: [("postgres_restart", "postgres", 0.0)],
        Scenario.SMTP: [("smtp_outage", "smtp-sink", durations.smtp_outage_s)],
        Scenario.SMS: [("sms_errors", "sms-sink", durations.sms_errors_s)],
        Scenario.SLOW: [("slow_consumer", SLOW_TARGET, durations.slow_consumer_s)],
        Scenario.POISON: [("poison", "input topics", 0.0)],
    }
    if scenario is Scenario.ALL:
        return [fault for s, faults in by_scenario.items() for fault in faults]
    return by_scenario.get(scenario, [])


def plan_faults(
    scenario: Scenario,
    seed: int,
    load_s: float,
    *,
    short: bool = False,
    durations: Durations | None = None,
) -> list[PlannedFault]:
    """The scenario's faults at seeded moments within the middle 80 % of the load's
    `load_s` wall seconds, each in a slot of its own so that none overlaps another (the
    recovery from one is measured before the next). Duplicates are not scheduled here: the
    simulator sends them all along (`duplicate_rate`)."""
    durations = durations or (Durations.short() if short else Durations())
    wanted = _faults(scenario, durations, short)
    if not wanted:
        return []
    rng = random.Random(f"e2e-faults:{seed}:{scenario.value}")
    rng.shuffle(wanted)
    begin, span = 0.1 * load_s, 0.8 * load_s
    slot = span / len(wanted)
    planned = []
    for number, (kind, target, duration) in enumerate(wanted):
        start = begin + number * slot
        room = max(0.0, slot - duration) * 0.5
        planned.append(PlannedFault(kind, target, round(start + rng.uniform(0, room), 3), duration))
    return planned


def duplicate_rate(scenario: Scenario) -> float:
    """The share of requests the simulator delivers twice: the burst of duplicated
    webhooks, in the scenarios that have it."""
    return 0.05 if scenario in (Scenario.DUPLICATES, Scenario.ALL) else 0.0
