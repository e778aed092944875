# Nudge — the two commands a newcomer needs are `make run` and `make test`.
# Every target installs what it needs first: Python packages (into .venv), the Kafka jars
# (Maven Central, cached in .cache/) and PostgreSQL (Debian's packages, when missing).

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
VENV_STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
export NUDGE_SECRET_KEY_FILE ?= $(CURDIR)/.local/secret.key

include mk/infra.mk
include mk/bench.mk
include mk/image.mk
include mk/asyncapi.mk
include mk/deploy.mk
include mk/analyst.mk
include mk/e2e.mk

.PHONY: help deps venv lock up run stop test check lint typecheck bench schemas clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

venv: $(VENV_STAMP) ## Python environment with the locked dependency versions

$(VENV_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "installing python3-venv (Debian's python3 lacks ensurepip without it)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

deps: venv kafka-fetch pg-install ## Install everything that is missing

lock: ## Re-resolve requirements.lock from pyproject.toml (after changing dependencies)
	$(BIN)/uv pip compile -q pyproject.toml --extra dev -o requirements.lock

up: deps ## Start Kafka, PostgreSQL and the services in the background
	deploy/local/run.sh up

run: deps ## Start everything, replay the demo storyline, follow the events and triggers (Ctrl-C stops)
	deploy/local/run.sh run

stop: ## Stop the services, Kafka and PostgreSQL
	deploy/local/run.sh down

test: deps browser-install analyst-tools check image-check asyncapi-check deploy-check ## Lint, type-check, check the image, catalog and manifests, run the whole suite against real Kafka and PostgreSQL
	$(BIN)/pytest --durations=30 $(DEPLOY_CHECK_TESTS:%=--ignore=%)

check: lint typecheck ## ruff and mypy

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy shared services tests deploy

bench: deps bench-tools ## Throughput and latency of ingest, feedback, triggers, segmenter and dispatch, with references
	deploy/local/run.sh infra
	$(BIN)/python -m tests.bench.ingest
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$${NUDGE_KAFKA_PORT:-19092} $(BIN)/python -m tests.bench.feedback
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$${NUDGE_KAFKA_PORT:-19092} $(BIN)/python -m tests.bench.triggers
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$${NUDGE_KAFKA_PORT:-19092} $(BIN)/python -m tests.bench.segmenter
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$${NUDGE_KAFKA_PORT:-19092} $(BIN)/python -m tests.bench.dispatch
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$${NUDGE_KAFKA_PORT:-19092} $(BIN)/python -m tests.bench.dispatch --split --processes 2

schemas: venv ## Regenerate the committed JSON Schemas and OpenAPI document
	$(BIN)/nudge schemas export

clean: stop ## Stop everything and delete local data (keeps the caches)
	rm -rf .local
