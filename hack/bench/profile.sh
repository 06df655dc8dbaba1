#!/usr/bin/env bash
# make bench-profile: CPU and allocation profiles (pprof) of the per-record
# paths against a real Apache Kafka broker:
#   producer: stream.Run at full speed (BenchmarkRunFullSpeed: transactional,
#             idempotent, acks=all, as the binary), RECORDS reports;
#   consumer: consume.Run over 4 partitions from offset 0 to the end with a
#             checkpoint + fsync per batch (BenchmarkRunCatchUp), 3 passes
#             over RECORDS reports.
# Uses KAFKA_BROKERS if set, else starts a broker as make bench does.
# Profiles land in .cache/bench/pprof; the top of each is printed. Look
# further with e.g.  go tool pprof -http=: .cache/bench/pprof/consumer.cpu.pprof
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT=$ROOT/.cache/bench/pprof
RECORDS=${RECORDS:-1000000}
GO=${GO:-go}
mkdir -p "$OUT"

if [[ -z "${KAFKA_BROKERS:-}" ]]; then
  # A broker in a KAFKA_HOME of its own (a test broker may be running from
  # the default one), sharing the default one's jars.
  LIBS_HOME=${KAFKA_HOME:-$ROOT/.cache/kafka}
  KAFKA_HOME=$LIBS_HOME hack/kafka/kafka.sh install
  export KAFKA_HOME=$ROOT/.cache/bench/kafka
  mkdir -p "$KAFKA_HOME"
  ln -sfn "$LIBS_HOME/libs" "$KAFKA_HOME/libs"
  hack/kafka/kafka.sh stop 2>/dev/null || true
  KAFKA_BROKERS=$(hack/kafka/kafka.sh start)
  export KAFKA_BROKERS
  trap 'hack/kafka/kafka.sh stop' EXIT
fi

echo "== producer: stream.Run, $RECORDS reports" >&2
(cd services/producer && GOWORK=off $GO test -run '^$' -bench 'RunFullSpeed' -benchtime "${RECORDS}x" -benchmem \
  -cpuprofile "$OUT/producer.cpu.pprof" -memprofile "$OUT/producer.mem.pprof" -o "$OUT/stream.test" ./internal/stream)
echo "== consumer: consume.Run, 3 passes over $RECORDS reports" >&2
(cd services/consumer && GOWORK=off BENCH_RECORDS=$RECORDS CHECKPOINT_BENCH_DIR=$ROOT/.cache/bench \
  $GO test -run '^$' -bench 'RunCatchUp' -benchtime 3x -benchmem \
  -cpuprofile "$OUT/consumer.cpu.pprof" -memprofile "$OUT/consumer.mem.pprof" -o "$OUT/consume.test" ./internal/consume)

for p in producer consumer; do
  echo
  echo "==== $p: CPU, by cumulative time"
  $GO tool pprof -top -cum -nodecount 35 "$OUT/$p.cpu.pprof" 2>/dev/null | sed -n '4,$p'
  echo
  echo "==== $p: allocations (bytes)"
  $GO tool pprof -sample_index=alloc_space -top -nodecount 12 "$OUT/$p.mem.pprof" 2>/dev/null | sed -n '4,$p'
done
echo
echo "profiles: $OUT/{producer,consumer}.{cpu,mem}.pprof  (go tool pprof -http=: FILE)"
