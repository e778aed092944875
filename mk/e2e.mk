# The end-to-end run (issue 25), included from the main Makefile: every service a separate
# process on a Kafka (:29392) and PostgreSQL (:25432) of its own, under the shop simulator's
# load and every fault, compared with the oracle (tests/e2e/, tests/e2e/harness/).
# Results in .local/e2e/runs/<stamp>/ (result.json, metrics.jsonl, logs/).

E2E_CUSTOMERS ?= 100000
E2E_DAYS ?= 7
E2E_SEED ?= 7
E2E_SCALE ?= 672
E2E_RATE ?= 2000
E2E_SCENARIO ?= all
E2E_ARGS ?=

.PHONY: e2e e2e-short

e2e: deps ## The whole system under load and every fault (100,000 customers, a week in ~15 min)
	$(BIN)/python -m tests.e2e --customers $(E2E_CUSTOMERS) --days $(E2E_DAYS) --seed $(E2E_SEED) \
	  --scale $(E2E_SCALE) --rate $(E2E_RATE) --scenario $(E2E_SCENARIO) $(E2E_ARGS)

e2e-short: deps ## The short e2e run: 2,000 customers, a simulated day, two SIGKILLs (~3 min)
	$(BIN)/python -m tests.e2e --short $(E2E_ARGS)
