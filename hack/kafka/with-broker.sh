#!/usr/bin/env bash
# hack/kafka/with-broker.sh CMD [ARGS...]: run CMD with KAFKA_BROKERS naming a
# real Apache Kafka broker: the one KAFKA_BROKERS already names, else one
# started for CMD alone and stopped after it, whatever CMD's exit (an instance
# of its own, WITH_BROKER_INSTANCE, default "with-broker", so a test broker
# of hack/kafka/kafka.sh start keeps running beside it). CMD's exit status is
# this script's.
#
#   hack/kafka/with-broker.sh go test -run '^$' -bench . ./internal/consume
set -euo pipefail
(($# > 0)) || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

if [[ -n "${KAFKA_BROKERS:-}" ]]; then
  exec "$@"
fi

KAFKA_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka.sh"
export KAFKA_INSTANCE=${WITH_BROKER_INSTANCE:-with-broker}
# A broker left by an interrupted run of ours would refuse the start.
"$KAFKA_SH" stop 2>/dev/null || true
KAFKA_BROKERS=$("$KAFKA_SH" start)
export KAFKA_BROKERS
trap '"$KAFKA_SH" stop' EXIT
echo "with-broker.sh: Apache Kafka at $KAFKA_BROKERS for: $*" >&2
rc=0
"$@" || rc=$?
exit "$rc"
