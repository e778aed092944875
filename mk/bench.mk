# Benchmark tooling, included from the main Makefile: `make bench` depends on bench-tools.
#
# The load generator is vegeta (Go): it is not Python, so the client does not eat the CPU the
# ingest process is measured on, and at a fixed rate it sends on schedule whatever the
# latency (no coordinated omission). Built once from the Go module proxy into .cache/bin,
# where tests/bench/vegeta.py looks for it; a version bump rebuilds it.

VEGETA_VERSION := v12.13.0
VEGETA_BIN_DIR := $(CURDIR)/.cache/bin
VEGETA_STAMP := $(VEGETA_BIN_DIR)/.vegeta-$(VEGETA_VERSION)

# Postfix's smtp-sink: an SMTP server in C that accepts and discards, the second server the
# dispatch bench sends to (tests/bench/dispatch.py), so that its email rate can also be seen
# without the Python sink's CPU on the same cores. Only the binary and its libraries are
# unpacked from Debian's package into .cache/postfix; no mail system is installed.
SMTP_SINK_BIN := $(CURDIR)/.cache/postfix/usr/sbin/smtp-sink

.PHONY: bench-tools

bench-tools: $(VEGETA_STAMP) $(SMTP_SINK_BIN) ## Install vegeta and postfix's smtp-sink for `make bench`

$(SMTP_SINK_BIN):
	@command -v apt-get >/dev/null || { \
	  echo "bench-tools: postfix's smtp-sink comes from Debian's postfix package (apt-get)" >&2; exit 1; }
	rm -rf $(CURDIR)/.cache/postfix-deb && mkdir -p $(CURDIR)/.cache/postfix-deb
	cd $(CURDIR)/.cache/postfix-deb && { apt-get download postfix 2>/dev/null || \
	  { apt-get update -qq && apt-get download postfix; }; }
	dpkg-deb -x $(CURDIR)/.cache/postfix-deb/postfix_*.deb $(CURDIR)/.cache/postfix
	rm -rf $(CURDIR)/.cache/postfix-deb
	@test -x $@

$(VEGETA_STAMP):
	@command -v go >/dev/null || { \
	  echo "bench-tools: vegeta is built with Go >= 1.22, which is not installed" \
	       "(https://go.dev/doc/install; Debian's golang-go is too old)" >&2; exit 1; }
	GOBIN=$(VEGETA_BIN_DIR) go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)
	@rm -f $(VEGETA_BIN_DIR)/.vegeta-* && touch $@
