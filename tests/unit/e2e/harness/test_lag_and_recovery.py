from tests.e2e.harness.lag import group_lag
from tests.e2e.harness.recovery import baseline, peak_between, recovery_s


def test_lag_is_the_records_past_each_committed_offset() -> None:
    committed = {("t", 0): 10, ("t", 1): 5}
    ends = {("t", 0): 15, ("t", 1): 5}
    assert group_lag(committed, ends) == 5


def test_a_commit_newer_than_the_end_read_counts_as_no_lag() -> None:
    assert group_lag({("t", 0): 20}, {("t", 0): 18}) == 0


def test_a_partition_without_an_end_offset_counts_nothing() -> None:
    assert group_lag({("t", 0): 20}, {}) == 0


SAMPLES = [(0.0, 5), (5.0, 8), (10.0, 400), (12.0, 900), (15.0, 300), (18.0, 40), (20.0, 0)]


def test_recovery_ends_when_lag_is_back_at_the_level_before_the_fault() -> None:
    assert baseline(SAMPLES, 10.0) == 8
    assert recovery_s(SAMPLES, 10.0, 12.0, slack=50) == 6.0  # 18 s: 40 <= 8 + 50
    assert recovery_s(SAMPLES, 10.0, 12.0, slack=0) == 8.0  # 20 s: 0 <= 8


def test_recovery_is_none_when_lag_never_came_back() -> None:
    assert recovery_s([(0.0, 0), (10.0, 500), (20.0, 900)], 5.0, 10.0, slack=10) is None


def test_a_fault_that_left_lag_low_recovered_at_once() -> None:
    assert recovery_s(SAMPLES, 0.5, 1.0) == 4.0  # the first sample after its end


def test_peak_between() -> None:
    assert peak_between(SAMPLES, 10.0, 15.0) == 900
    assert peak_between(SAMPLES, 16.0, 17.0) == 0
