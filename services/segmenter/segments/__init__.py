"""The shipped segments (`default.yaml`) and the rule language's guide (`README.md`)."""
