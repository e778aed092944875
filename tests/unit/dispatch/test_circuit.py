"""The provider pause: consecutive transient failures rest a provider, doubling each time."""

from __future__ import annotations

from services.dispatch.sender import Circuit


def test_a_burst_of_failures_in_flight_opens_the_circuit_once() -> None:
    circuit = Circuit(threshold=5, max_pause_s=60)
    for _ in range(64):  # sends already in flight when the provider went down
        circuit.failed()
    assert circuit.is_open()
    assert circuit.pause_s == 2.0  # opened once (1 s), the next pause is 2 s, not 60


def test_successes_reset_the_pause() -> None:
    circuit = Circuit(threshold=2, max_pause_s=60)
    circuit.failed()
    assert not circuit.is_open()
    circuit.failed()
    assert circuit.is_open()
    circuit.succeeded()
    assert circuit.pause_s == 1.0 and circuit.failures == 0
