import itertools

from tests.e2e.harness.schedule import (
    KILLABLE,
    SHORT_KILLS,
    Durations,
    Scenario,
    duplicate_rate,
    plan_faults,
)


def test_the_same_seed_gives_the_same_faults_and_another_seed_other_moments() -> None:
    first = plan_faults(Scenario.ALL, 7, 900.0)
    assert first == plan_faults(Scenario.ALL, 7, 900.0)
    assert [f.at_s for f in first] != [f.at_s for f in plan_faults(Scenario.ALL, 8, 900.0)]


def test_all_holds_every_fault_once_without_overlaps_inside_the_load() -> None:
    planned = sorted(plan_faults(Scenario.ALL, 3, 900.0), key=lambda f: f.at_s)
    kinds = [f.kind for f in planned]
    assert kinds.count("sigkill") == len(KILLABLE)
    assert {"broker_restart", "postgres_restart", "smtp_outage", "sms_errors",
            "slow_consumer", "poison"} <= set(kinds)  # fmt: skip
    assert all(f.at_s >= 90.0 and f.at_s + f.duration_s <= 810.0 for f in planned)
    for before, after in itertools.pairwise(planned):
        assert before.at_s + before.duration_s <= after.at_s


def test_the_short_version_kills_two_services_and_shortens_outages() -> None:
    assert {f.target for f in plan_faults(Scenario.SIGKILL, 1, 50.0, short=True)} == set(
        SHORT_KILLS
    )
    (outage,) = plan_faults(Scenario.SMTP, 1, 50.0, short=True)
    assert outage.duration_s == Durations.short().smtp_outage_s
    (full,) = plan_faults(Scenario.SMTP, 1, 900.0)
    assert full.duration_s == 60.0


def test_no_faults_and_duplicates_are_the_simulators() -> None:
    assert plan_faults(Scenario.NONE, 1, 900.0) == []
    assert plan_faults(Scenario.DUPLICATES, 1, 900.0) == []
    assert duplicate_rate(Scenario.DUPLICATES) > 0
    assert duplicate_rate(Scenario.ALL) > 0
    assert duplicate_rate(Scenario.SIGKILL) == 0
