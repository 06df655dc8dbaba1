# The chart end to end on a real single-node Kubernetes, without Docker
# (included by the root Makefile). Needs root; see hack/cluster/test-e2e.sh.

.PHONY: test-e2e
test-e2e: ## the Helm chart end to end on a throwaway local Kubernetes v1.34 (root; ~40 min cold, ~16 warm)
	hack/cluster/test-e2e.sh

.PHONY: cluster-up
cluster-up: ## start the local Kubernetes alone (root); prints its kubeconfig
	hack/k8s/bins.sh cluster >/dev/null
	hack/images/build.sh >/dev/null
	hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## remove the local Kubernetes, leaving nothing behind
	hack/cluster/down.sh
