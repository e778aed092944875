"""An overloaded run is told apart from lateness the harness's own faults caused."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.harness.run import late_outside_faults
from tests.e2e.model import Fault

T = 1_800_000_000


def _fault(start: int, end: int) -> Fault:
    return Fault(
        "broker_restart",
        "kafka",
        datetime.fromtimestamp(start, UTC),
        datetime.fromtimestamp(end, UTC),
    )


def test_lateness_during_a_fault_and_its_recovery_is_the_faults() -> None:
    simulator = {"late_by_second": {str(T + 5): 12.0, str(T + 40): 9.0}}
    assert late_outside_faults(simulator, [_fault(T, T + 15)]) == {}


def test_lateness_beyond_the_margin_outside_faults_is_overload() -> None:
    simulator = {"late_by_second": {str(T + 100): 7.5, str(T + 101): 2.0}}
    assert late_outside_faults(simulator, [_fault(T, T + 15)]) == {T + 100: 7.5}


def test_a_run_without_lateness_is_not_overloaded() -> None:
    assert late_outside_faults({}, []) == {}
