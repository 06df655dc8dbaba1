# The Helm chart's linters and package (included by the root Makefile). The
# tools are pinned: see hack/tools/chart-lint.sh.
CHART_PACKAGE_DIR ?= .cache/charts

.PHONY: chart-lint
chart-lint: ## the chart through chart-testing's yamllint and yamale configs, and kube-score on helm template (defaults, ci/*-values.yaml)
	hack/tools/chart-lint.sh all

.PHONY: chart-yaml-lint
chart-yaml-lint: ## yamllint + yamale with chart-testing's own configs on Chart.yaml and the values files (part of make test)
	hack/tools/chart-lint.sh yaml

.PHONY: chart-package
chart-package: ## helm package charts/weather into $(CHART_PACKAGE_DIR) (the pinned helm of hack/k8s/helm)
	HELM=$$(hack/k8s/bins.sh helm)/helm; mkdir -p $(CHART_PACKAGE_DIR); \
	$$HELM package charts/weather --destination $(CHART_PACKAGE_DIR)
