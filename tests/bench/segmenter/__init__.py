"""The segmenter benchmark (`python -m tests.bench.segmenter`): throughput and time-based ticks.

Two measures from the segmenter issue, printed and never asserted:

- events/s and CPU per event through one real segmenter worker (`python -m
  services.segmenter`, RocksDB tables, the shipped segments) on a realistic mix of its inputs,
  next to the Faust floor (an agent that only takes the same records) measured in the same
  run; target: at least 50% of the floor (`throughput.py`, `workload.py`);
- the cost of the ticks in which 10,000 profiles change segment by time alone, with
  1,000,000 profiles in the tables against 20,000; target: the ratio under 1.5 (`ticks.py`,
  `population.py`, in-process: the worker's own `Processor`, `Evaluator` and `TimerIndex`
  with dict tables).

Built on the triggers bench's pieces (tests/bench/triggers/).
"""
