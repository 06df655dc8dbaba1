# make chaos: the Jepsen-style fault campaign (hack/chaos) on a real
# three-broker Kafka started for the run, every broker behind Toxiproxy:
# 1,000,000 reports over about 5 minutes, >= 50 faults on a seeded schedule,
# then the verdict (files = recount, the stream exactly once). One table on
# stdout (also in .cache/chaos/seed-<seed>/result.md); exit 1 on a violation.
# Needs Java 17 (Maven once, for the jars) and root for the checkpoint tmpfs
# (without it, the disk-full fault is left out). About 7 minutes.
#   make chaos CHAOS_FLAGS='-seed 42'   replay a run's schedule
#   make chaos CHAOS_FLAGS=-short       the CI version (~3 min)
#   make chaos CHAOS_FLAGS=-help        every option
CHAOS_FLAGS ?=

.PHONY: chaos
chaos: ## fault campaign: 3 brokers behind Toxiproxy, kills, pauses, network faults, a full and a lost disk; the verdict (~7 min)
	hack/kafka/kafka.sh install
	cd hack && $(GO) run ./chaos $(CHAOS_FLAGS)
