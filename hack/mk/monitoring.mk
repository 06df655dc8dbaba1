# The chart's alert rules (included by the root Makefile): promtool, built
# pinned from the Go module proxy into .cache/k8s (hack/tools/promtool,
# hack/k8s/bins.sh promtool; ~5 min cold), checks charts/weather/files/alerts.yaml
# and runs its unit tests (charts/testdata/alerts_test.yaml).

.PHONY: chart-rules
chart-rules: ## promtool check rules + test rules on the chart's alerts (part of make test)
	PROMTOOL=$$(hack/k8s/bins.sh promtool)/promtool; \
	$$PROMTOOL check rules charts/weather/files/alerts.yaml; \
	$$PROMTOOL test rules charts/testdata/alerts_test.yaml
