from tests.e2e.harness.procstat import descendants, parse_stat, parse_status

STAT = (
    "4242 (python -m (x) y) S 4000 4242 4242 0 -1 4194560 2000 0 0 0 "
    "150 50 7 3 20 0 4 0 123 456789 1234 18446744073709551615"
)


def test_stat_times_are_read_after_a_command_name_with_spaces_and_parentheses() -> None:
    times = parse_stat(STAT)
    assert times.ppid == 4000
    assert (times.user_ticks, times.system_ticks) == (150, 50)
    assert (times.children_user_ticks, times.children_system_ticks) == (7, 3)
    assert times.cpu_s(ticks_per_s=100) == 2.1


def test_status_gives_rss_and_its_peak() -> None:
    text = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t4\n"
    memory = parse_status(text)
    assert (memory.rss_kb, memory.peak_rss_kb) == (102400, 204800)


def test_a_kernel_thread_has_no_memory() -> None:
    assert parse_status("Name:\tkthreadd\nThreads:\t1\n").rss_kb == 0


def test_descendants_include_grandchildren_only_of_that_root() -> None:
    parents = {10: 1, 11: 10, 12: 11, 20: 1, 21: 20}
    assert sorted(descendants(10, parents)) == [10, 11, 12]
