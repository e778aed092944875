# The container image (deploy/Dockerfile) and the laptop compose file (deploy/compose/),
# included from the main Makefile. `make image` needs a Docker engine (with BuildKit); the
# checks do not: `make image-check` lints the Dockerfile with hadolint and validates the
# compose file against the Compose Specification's schema, and `make test` runs both as
# tests (tests/unit/deploy/test_dockerfile.py, test_compose.py).
#
# The tag: IMAGE (default nudge:dev, the name deploy/compose/compose.yaml uses). For a
# registry: make image IMAGE=registry.example.com/nudge:0.1.0-$(git rev-parse --short HEAD)

IMAGE ?= nudge:dev
DOCKER ?= docker
IMAGE_VERSION = $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
IMAGE_REVISION = $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_SOURCE = $(shell git config --get remote.origin.url 2>/dev/null)

.PHONY: image hadolint compose-check image-check

image: ## Build the image (IMAGE=nudge:dev; needs a Docker engine)
	$(DOCKER) build -f deploy/Dockerfile --target nudge -t $(IMAGE) \
	  --build-arg UV_VERSION=$(UV_VERSION) \
	  --build-arg VERSION=$(IMAGE_VERSION) \
	  --build-arg REVISION=$(IMAGE_REVISION) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  --build-arg SOURCE=$(IMAGE_SOURCE) \
	  .

hadolint: venv ## Lint deploy/Dockerfile (hadolint, settings in .hadolint.yaml)
	$(BIN)/hadolint --config .hadolint.yaml deploy/Dockerfile

compose-check: venv ## Validate deploy/compose/compose.yaml against the Compose Specification
	$(BIN)/python -m tests.support.compose_schema deploy/compose/compose.yaml

image-check: hadolint compose-check ## hadolint and the compose schema check (no engine needed)
