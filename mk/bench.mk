# Benchmark tooling, included from the main Makefile: `make bench` depends on bench-tools.
#
# The load generator is vegeta (Go): it is not Python, so the client does not eat the CPU the
# ingest process is measured on, and at a fixed rate it sends on schedule whatever the
# latency (no coordinated omission). Built once from the Go module proxy into .cache/bin,
# where tests/bench/vegeta.py looks for it; a version bump rebuilds it.

VEGETA_VERSION := v12.13.0
VEGETA_BIN_DIR := $(CURDIR)/.cache/bin
VEGETA_STAMP := $(VEGETA_BIN_DIR)/.vegeta-$(VEGETA_VERSION)

.PHONY: bench-tools

bench-tools: $(VEGETA_STAMP) ## Install vegeta, the HTTP load generator of `make bench`

$(VEGETA_STAMP):
	@command -v go >/dev/null || { \
	  echo "bench-tools: vegeta is built with Go >= 1.22, which is not installed" \
	       "(https://go.dev/doc/install; Debian's golang-go is too old)" >&2; exit 1; }
	GOBIN=$(VEGETA_BIN_DIR) go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)
	@rm -f $(VEGETA_BIN_DIR)/.vegeta-* && touch $@
