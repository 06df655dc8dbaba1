# make bench: how many reports per second the pipeline sustains, how much
# memory the stats consumer needs, how fast it recovers from SIGKILL, and the
# end-to-end latency, measured against a real Apache Kafka broker started for
# the run (Java 17; Maven once, for the jars). One markdown table on stdout,
# also written to .cache/bench/results.md; progress on stderr. About 7-11
# minutes on 2 cores, plus the one-time Maven download of the Kafka jars.
#   make bench BENCH_FLAGS='-records 200000 -latency 10s -latency-fast 5s'   a quick try
#   make bench BENCH_FLAGS=-help                                             every option
#   make bench-go        only the Go benchmarks (the loops' on a broker of their own)
#   make bench-profile   pprof of the producer's and the consumer's loops
# Everything here builds module by module with GOWORK=off, as the images do:
# the bench (hack/bench) is a module of its own and not in go.work.
BENCH_BIN := .cache/bench/bin
BENCH_FLAGS ?=

.PHONY: bench
bench: ## throughput, memory, restart, latency and the dashboard under load on a real Kafka, vs raw franz-go, Kafka's perf tools and Kafka Streams: one table (~7-11 min)
	mkdir -p $(BENCH_BIN)
	cd services/producer && GOWORK=off $(GO) build -o ../../$(BENCH_BIN)/producer .
	cd services/consumer && GOWORK=off $(GO) build -o ../../$(BENCH_BIN)/consumer .
	cd services/dashboard && GOWORK=off $(GO) build -o ../../$(BENCH_BIN)/dashboard .
	cd hack/bench && GOWORK=off $(GO) build -o ../../$(BENCH_BIN)/bench .
	$(BENCH_BIN)/bench -repo . -bin $(BENCH_BIN) $(BENCH_FLAGS)

.PHONY: bench-go
bench-go: ## Go benchmarks (testing.B): encode, decode, stats update, checkpoint write, and the producer's and consumer's loops on a real Kafka (started for them unless KAFKA_BROKERS is set)
	mkdir -p .cache/bench
	hack/kafka/with-broker.sh $(MAKE) --no-print-directory bench-go-run

# bench-go's benchmarks, on the broker of KAFKA_BROKERS (none set: the loops'
# benchmarks skip, saying so).
.PHONY: bench-go-run
bench-go-run:
	cd services/common && GOWORK=off CHECKPOINT_BENCH_DIR=$(CURDIR)/.cache/bench \
		$(GO) test -run '^$$' -bench . -benchmem ./generator ./codec ./stats ./checkpoint
	cd services/producer && GOWORK=off $(GO) test -run '^$$' -bench . -benchmem ./internal/stream
	cd services/consumer && GOWORK=off CHECKPOINT_BENCH_DIR=$(CURDIR)/.cache/bench \
		$(GO) test -run '^$$' -bench . -benchmem ./internal/consume

.PHONY: bench-profile
bench-profile: ## pprof (CPU, allocations) of the producer's and the consumer's loops on a real Kafka
	hack/bench/profile.sh
