"""The triggers bench's inputs are what it claims: a seeded workload creates nobody and draws only
the seeded customers, the histories play in time order, the template states hold no step due
while the bench runs, and every clone decodes as its own customer; the report renders with the
large and two-worker runs left out.
"""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest

from services.triggers.journeys import CustomerState
from tests.bench.report import Machine
from tests.bench.triggers import population
from tests.bench.triggers.population import QUIET_S, Templates
from tests.bench.triggers.report import render
from tests.bench.triggers.throughput import Breakdown, Floor, Reference, Results, WorkerRun
from tests.bench.triggers.workload import Workload, check_sample, customer_id

SHOP = "bench-test"


@pytest.fixture(scope="module")
def templates() -> Templates:
    return population.templates(40)


def test_a_seeded_workload_creates_nobody_and_draws_only_its_customers() -> None:
    records = list(Workload(SHOP, 50, seeded=True).records(2_000))
    check_sample(records[:300])
    kinds = Counter(orjson.loads(value)["type"] for _key, value in records)
    assert "customer.created" not in kinds
    keys = {key for key, _value in records}
    assert keys <= {f"{SHOP}:{customer_id(n)}".encode() for n in range(50)}
    assert len(keys) == 50


def test_an_unseeded_workload_still_creates_every_customer_first() -> None:
    records = list(Workload(SHOP, 20).records(100))
    assert all(orjson.loads(value)["type"] == "customer.created" for _k, value in records[:20])


def test_histories_play_in_time_order_each_starting_with_the_sign_up() -> None:
    timeline = Workload(SHOP, 200).timeline(30.0, 1_900_000_000.0)
    assert [when for when, _n, _kind in timeline] == sorted(w for w, _n, _k in timeline)
    first: dict[int, str] = {}
    for _when, n, kind in timeline:
        first.setdefault(n, kind)
    assert set(first.values()) == {"customer.created"} and len(first) == 200


def test_no_template_state_has_a_step_due_while_the_bench_runs(templates: Templates) -> None:
    soon = time.time() + QUIET_S / 2
    for raw in templates.states:
        due = CustomerState.from_bytes(raw).next_due_at()
        assert due is None or due.timestamp() > soon


def test_every_clone_decodes_as_its_own_customer_of_the_bench_shop(templates: Templates) -> None:
    numbers = [0, 9, 10, 39, 40, 12_345, 999_999]
    pairs = list(population.clones(templates.states, SHOP, numbers))
    population.check_clones(pairs, SHOP)
    assert [key for key, _raw in pairs] == [f"{SHOP}:{customer_id(n)}".encode() for n in numbers]
    # the same template for customers 0 and 40: the same state but for the id
    zero, forty = (CustomerState.from_bytes(pairs[i][1]) for i in (0, 4))
    zero.customer_id = forty.customer_id
    assert zero.to_bytes() == forty.to_bytes()


def _worker(customers: int) -> WorkerRun:
    return WorkerRun(
        events=1_000,
        produced_per_s=10_000.0,
        record_bytes=700.0,
        measured_events=990,
        seconds=1.0,
        events_per_s=990.0,
        cpu_s=0.9,
        cpu_us_per_event=909.0,
        cores_busy=0.9,
        peak_rss_mib=200.0,
        dead_lettered=0,
        startup_s=5.0,
        state_bytes_mean=2_000.0,
        broker_cores_busy=0.2,
        customers=customers,
    )


def test_the_report_renders_the_small_run_alone(templates: Templates) -> None:
    runs = Results(
        small=_worker(1_000),
        large=None,
        pair=None,
        reference=Reference(100_000.0, 0.01, (Floor(False, 8_000.0, 120.0),)),
        breakdown=Breakdown(1_000, 150.0),
        templates=templates,
        state_bytes_after_small=3_000.0,
    )
    text = render(Machine(2, "test cpu", 8.0, "3.11"), 2, runs, None, None)
    assert "12.4%" in text  # 990 / 8,000 events/s
    assert "Two workers" not in text
