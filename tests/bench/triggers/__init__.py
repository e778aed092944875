"""The triggers benchmark (`python -m tests.bench.triggers`): throughput and timers.

Three measures from the triggers issue, printed and never asserted:

- events/s through one real triggers worker (`python -m services.triggers`, RocksDB tables),
  next to a plain consumer reading the same records (`throughput.py`);
- timer firing lateness with 1,000,000 pending timers, and
- the cost of one timer tick at 10,000 vs 1,000,000 pending timers (`timers.py`, in-process:
  the worker's own `Processor` and `TimerIndex` with dict tables).
"""
