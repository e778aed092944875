# The end-to-end run (issue 25), included from the main Makefile: every service a separate
# process on a Kafka (:29392) and PostgreSQL (:25432) of its own, under the shop simulator's
# load and every fault, compared with the oracle (tests/e2e/, tests/e2e/harness/).
# Results in .local/e2e/runs/<stamp>/ (result.json, metrics.jsonl, logs/).

E2E_CUSTOMERS ?= 100000
E2E_DAYS ?= 7
E2E_SEED ?= 7
# A week in 84 minutes: 100,000 customers' events offered below what the 2-core machine
# sustains end to end (`make e2e-throughput`; README, "Benchmarks"), leaving room for the
# faults' catching up (docs/E2E.md).
E2E_SCALE ?= 120
E2E_RATE ?= 2000
E2E_SCENARIO ?= all
E2E_ARGS ?=

.PHONY: e2e e2e-short e2e-throughput

e2e: deps ## The whole system under load and every fault (100,000 customers' week, ~1.5 h here)
	$(BIN)/python -m tests.e2e --customers $(E2E_CUSTOMERS) --days $(E2E_DAYS) --seed $(E2E_SEED) \
	  --scale $(E2E_SCALE) --rate $(E2E_RATE) --scenario $(E2E_SCENARIO) $(E2E_ARGS)

e2e-short: deps ## The short e2e run: 2,000 customers, a simulated day, two SIGKILLs (~3 min)
	$(BIN)/python -m tests.e2e --short $(E2E_ARGS)

e2e-throughput: deps ## What the whole pipeline sustains (events/s end to end beside Kafka's producer)
	$(BIN)/python -m tests.e2e --throughput $(E2E_ARGS)
