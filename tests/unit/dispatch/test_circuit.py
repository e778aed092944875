"""The provider pause: consecutive transient failures rest a provider, doubling each time."""

from __future__ import annotations

from services.dispatch.sender import Circuit
from tests.support.clocks import PinnedClock
from tests.support.dispatch_factories import NOON


def test_a_burst_of_failures_in_flight_opens_the_circuit_once() -> None:
    circuit = Circuit(threshold=5, max_pause_s=60, monotonic=PinnedClock(NOON).monotonic)
    for _ in range(64):  # sends already in flight when the provider went down
        circuit.failed()
    assert circuit.is_open()
    assert circuit.pause_s == 2.0  # opened once (1 s), the next pause is 2 s, not 60


def test_successes_reset_the_pause() -> None:
    circuit = Circuit(threshold=2, max_pause_s=60, monotonic=PinnedClock(NOON).monotonic)
    circuit.failed()
    assert not circuit.is_open()
    circuit.failed()
    assert circuit.is_open()
    circuit.succeeded()
    assert circuit.pause_s == 1.0 and circuit.failures == 0


def test_a_trip_pauses_for_the_longest_pause_at_once_and_says_so_once() -> None:
    clock = PinnedClock(NOON)
    circuit = Circuit(threshold=5, max_pause_s=60, monotonic=clock.monotonic)
    assert circuit.trip()
    assert not circuit.trip(), "a call in flight meeting the same misconfiguration"
    clock.advance(59)
    assert circuit.is_open() and circuit.remaining_s() == 1
    clock.advance(1)
    assert not circuit.is_open()
