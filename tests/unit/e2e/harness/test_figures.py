from datetime import UTC, datetime

from tests.e2e.harness.figures import (
    Figures,
    Throughput,
    fault_figures,
    render,
    service_costs,
)
from tests.e2e.harness.procstat import Usage
from tests.e2e.harness.sampler import LineCounter, Totals
from tests.e2e.model import Fault


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_end_to_end_rate_counts_until_the_pipeline_caught_up() -> None:
    t = Throughput(events=30_000, load_s=10.0, caught_up_s=20.0, simulator_events_per_s=3000)
    assert t.end_to_end_per_s == 1500.0
    assert Throughput(1, 1.0, None, 1.0).end_to_end_per_s is None


def test_costs_per_event_and_share_costliest_first() -> None:
    costs = service_costs({"ingest": 10.0, "triggers": 30.0}, {"triggers": 2048}, 10_000)
    assert [c.name for c in costs] == ["triggers", "ingest"]
    assert costs[0].cpu_ms_per_event == 3.0
    assert costs[0].share == 0.75
    assert costs[0].peak_rss_mb == 2.0
    assert costs[1].peak_rss_mb == 0.0


def test_fault_figures_and_the_tables() -> None:
    fault = Fault("sigkill", "triggers", _at(100.0), _at(104.0), "restarted and ready")
    lag = [(95.0, 10), (101.0, 600), (104.0, 700), (107.0, 30)]
    (row,) = fault_figures([fault], lag, horizon=200.0)
    assert (row.lag_before, row.lag_peak, row.recovery_s) == (10, 700, 3.0)
    text = render(
        Figures(
            Throughput(3000, 10.0, 12.0, 300.0, floor_events_per_s=50_000.0),
            [row],
            service_costs({"triggers": 3.0}, {"triggers": 1024}, 3000),
            0,
        )
    )
    assert "250.0" in text  # 3000 events in 12 s
    assert "50,000.0" in text
    assert "sigkill" in text and "700" in text and "3.0" in text
    assert "1.000" in text  # ms per event


def test_cpu_of_a_killed_process_is_kept_when_its_successor_starts_from_zero() -> None:
    totals = Totals()
    totals.add({"triggers": 1}, {1: Usage(5.0, 100, 200)})
    totals.add({"triggers": 2}, {2: Usage(1.0, 100, 150)})
    totals.add({"triggers": 2}, {2: Usage(2.5, 100, 150)})
    assert totals.cpu_s() == {"triggers": 7.5}
    assert totals.peak_rss_kb == {"triggers": 200}


def test_line_counter_counts_only_complete_lines_incrementally(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "sink.jsonl"
    counter = LineCounter(log)
    assert counter.update() == 0
    log.write_bytes(b'{"a":1}\n{"b":')
    assert counter.update() == 1
    with log.open("ab") as f:
        f.write(b'2}\n{"c":3}\n')
    assert counter.update() == 3
