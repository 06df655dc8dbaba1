# Weather streaming on Kafka: build, run, test.
#   make run         the pipeline on an embedded broker (no Docker)
#   make test        unit + integration tests (broker: KAFKA_BROKERS, else in-process kfake)
#   make test-kafka  the integration tests against a real Apache Kafka, started for the run
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go

# The workspace's modules; integration is tested on its own (it needs a broker).
# Those that talk to a kube-apiserver use envtest: kube-apiserver and etcd are
# built from the Go module proxy into .cache/k8s on first use (~10 min cold).
UNIT_MODULES := proto services/common services/producer services/consumer services/debug services/dashboard services/controller charts hack
# Modules outside go.work, each with its own dependency set (GOWORK=off).
OWN_MODULES := hack/bench hack/cluster/e2e hack/images/pause hack/k8s/coredns hack/k8s/etcd
# Every module: code or only pinned dependencies (tools, Kubernetes, helm).
ALL_MODULES := $(UNIT_MODULES) services/integration $(OWN_MODULES) hack/tools hack/k8s/bins hack/k8s/helm hack/k8s/localpath hack/tools/kubescore hack/tools/charttesting hack/tools/promtool hack/images/frontend
SERVICES := producer consumer debug dashboard

.PHONY: help
help: ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## build the services and the embedded broker into bin/
	$(GO) build -o bin/ $(addprefix ./services/,$(SERVICES)) ./hack/kafka/localkafka

.PHONY: run
run: build ## run the pipeline locally on an embedded broker; Ctrl-C stops it
	hack/run-local.sh

.PHONY: test
test: sources proto-check vet tidy-check lint chart-yaml-lint chart-rules test-unit test-integration ## everything make test-kafka runs, on KAFKA_BROKERS or kfake

.PHONY: sources
sources: ## fail if git tracks a binary or a file over 1 MiB
	$(GO) run ./hack/sourcecheck

.PHONY: test-unit
test-unit: ## unit tests of every module (and envtest ones against a real kube-apiserver)
	KUBEBUILDER_ASSETS=$$(hack/k8s/bins.sh envtest); export KUBEBUILDER_ASSETS; \
	for m in $(UNIT_MODULES); do (cd $$m && $(GO) test -count=1 ./...); done
	cd hack/bench && GOWORK=off $(GO) test -count=1 ./... # the bench's own checks (its Kafka Streams parser); not in go.work

.PHONY: test-integration
test-integration: ## the binaries against the broker in KAFKA_BROKERS (unset: in-process kfake)
	cd services/integration && $(GO) test -count=1 -timeout 30m -v ./... 2>&1 | grep -vE '^(=== (RUN|PAUSE|CONT)|\s+--- PASS)'

.PHONY: test-kafka
test-kafka: ## integration tests against a real Apache Kafka, and a secured one (TLS, mTLS, SASL, ACLs), started for the run (Java 17, Maven)
	export KAFKA_BROKERS=$$(hack/kafka/kafka.sh start); trap 'hack/kafka/kafka.sh stop' EXIT; \
	export KAFKA_SECURE=$$(hack/kafka/kafka.sh start-secure); trap 'hack/kafka/kafka.sh stop; hack/kafka/kafka.sh stop-secure' EXIT; \
	$(MAKE) test-integration

.PHONY: vet
vet: ## go vet and gofmt on every module
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); exit 1; }
	for m in $(UNIT_MODULES) services/integration; do (cd $$m && $(GO) vet ./...); done
	for m in $(OWN_MODULES); do (cd $$m && GOWORK=off $(GO) vet ./...); done

.PHONY: lint
lint: ## golangci-lint (.golangci.yml) on every module with code; built pinned into .cache/k8s on first use (~1.5 min)
	LINT=$$(hack/k8s/bins.sh lint)/golangci-lint; \
	for m in $(UNIT_MODULES) services/integration; do (cd $$m && $$LINT run --config $(CURDIR)/.golangci.yml ./...); done; \
	for m in $(OWN_MODULES); do (cd $$m && GOWORK=off $$LINT run --config $(CURDIR)/.golangci.yml ./...); done

.PHONY: proto
proto: ## regenerate proto/reportpb from proto/report.proto (pure Go, no protoc)
	$(GO) run ./hack/protogen

.PHONY: proto-check
proto-check: ## fail if proto/reportpb is not what proto/report.proto generates
	$(GO) run ./hack/protogen -check

.PHONY: tidy
tidy: ## go mod tidy in every module
	for m in $(ALL_MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done

.PHONY: tidy-check
tidy-check: ## fail if a module's go.mod or go.sum is not what go mod tidy makes
	for m in $(ALL_MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy -diff) || { echo "$$m is not tidy: make tidy"; exit 1; }; done

.PHONY: clean
clean: ## remove binaries and local run data (not the Kafka jar cache)
	rm -rf bin data

# Kubernetes (kind, images, e2e) and benchmark targets live beside their tooling.
-include hack/mk/*.mk

# Each fuzz target, for FUZZTIME (coverage-guided, beyond the seeds that
# make test runs). A crasher is kept by Go in the package's
# testdata/fuzz/<Target>/: commit it, it becomes a seed.
FUZZTIME ?= 20s
FUZZ_TARGETS := services/common/codec:FuzzDecodeIsProtoUnmarshal services/common/codec:FuzzParserAfterAnyRecordIsDecode \
	services/common/codec:FuzzEncodeIsProtoMarshal services/common/codec:FuzzValidDateIsTimeParse \
	services/common/stats:FuzzFileLoadsAsWritten services/common/stats:FuzzAppendStringIsJSONMarshal \
	services/consumer/internal/consume:FuzzFoldIsAPureFunctionOfTheLog

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 20s; CI runs it)
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*} name=$${t##*:}; \
		echo "fuzz: $$name ($$pkg) for $(FUZZTIME)"; \
		(cd $$pkg && $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) .) || exit 1; \
	done
