# Analyst tools, included from the main Makefile: Debian's kcat and jq, which the worked
# example docs/examples/revenue_per_campaign.sh uses and its test (run by `make test`) needs.

ANALYST_TOOLS := kcat jq

.PHONY: analyst-tools

analyst-tools: ## Install kcat and jq (Debian's packages) when missing
	@missing=""; for tool in $(ANALYST_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	[[ -z $$missing ]] && exit 0; \
	if [[ $$EUID -eq 0 ]] && command -v apt-get >/dev/null; then \
	  echo "installing$$missing from Debian's packages (the kcat and jq example)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "not found:$$missing; install Debian's packages of the same names" >&2; exit 1; \
	fi
