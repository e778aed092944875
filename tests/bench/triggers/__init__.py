"""The triggers benchmark (`python -m tests.bench.triggers`): throughput and timers.

Measures from the triggers issues, printed and never asserted:

- events/s and CPU per event through one real triggers worker (`python -m services.triggers`,
  RocksDB tables) with 1,000 and with 1,000,000 customers' states in its table (seeded from
  realistic histories, `population.py`), beside the Faust floor of the same run and a plain
  consumer of the same records; then two worker processes of one app id (`throughput.py`);
- timer firing lateness with 1,000,000 pending timers, and
- the cost of one timer tick at 10,000 vs 1,000,000 pending timers (`timers.py`, in-process:
  the worker's own `Processor` and `TimerIndex` with dict tables).
"""
