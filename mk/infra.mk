# Local infrastructure: a single-node Kafka (KRaft) and a private PostgreSQL
# cluster, run without Docker by the scripts in deploy/local/. Included from the
# main Makefile. Instances live in .local/, the Kafka jars are cached in .cache/.
# Ports, dirs etc. can be changed with the NUDGE_KAFKA_* / NUDGE_PG_* variables
# described at the top of each script.

INFRA_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/../deploy/local
KAFKA_SH := $(INFRA_DIR)/kafka.sh
POSTGRES_SH := $(INFRA_DIR)/postgres.sh

.PHONY: kafka-fetch kafka-start kafka-stop pg-install pg-start pg-stop infra-up infra-down \
	browser-install

kafka-fetch: ## Download the Kafka broker jars (skipped when already cached)
	$(KAFKA_SH) fetch

kafka-start: ## Start the local Kafka broker on 127.0.0.1:19092 and wait until it is ready
	$(KAFKA_SH) start

kafka-stop: ## Stop the local Kafka broker
	$(KAFKA_SH) stop

pg-install: ## Install PostgreSQL from Debian's packages when it is missing
	$(POSTGRES_SH) install

pg-start: ## Start the local PostgreSQL on 127.0.0.1:15432 (role/db nudge, db nudge_test)
	$(POSTGRES_SH) start

pg-stop: ## Stop the local PostgreSQL
	$(POSTGRES_SH) stop

browser-install: ## Install Debian's chromium (for the browser tests) when it is missing
	@command -v chromium >/dev/null && exit 0; \
	if [[ $$EUID -eq 0 ]] && command -v apt-get >/dev/null; then \
	  echo "installing chromium from Debian's packages (the preference page's browser test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "chromium not found; install Debian's 'chromium' package" >&2; exit 1; \
	fi

infra-up: kafka-start pg-start ## Start Kafka and PostgreSQL

infra-down: ## Stop Kafka and PostgreSQL (both are always attempted)
	$(KAFKA_SH) stop; k=$$?; $(POSTGRES_SH) stop; p=$$?; exit $$((k || p))
