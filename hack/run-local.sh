#!/usr/bin/env bash
# make run: the whole pipeline on this machine, on an embedded Kafka broker
# (franz-go kfake, persisted under data/kafka), no Docker needed:
#   producer -> topic temperatures (4 partitions) -> consumer 0 2, consumer 1 3 -> data/partition-N.json
#                                                 -> debug (group "debug"), printed here
# Ctrl-C stops the services first (they finish their batch and checkpoint),
# then the broker. Running it again continues where it stopped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATA=${DATA:-data}
ADDR=${LOCAL_KAFKA_ADDR:-127.0.0.1:9092}
LOGS="$DATA/logs"
mkdir -p "$LOGS"

services=()
broker=
stopping=
shutdown() {
  trap - INT TERM EXIT
  stopping=1
  echo "run-local: stopping the services, then the broker ..." >&2
  [ ${#services[@]} -gt 0 ] && kill -TERM "${services[@]}" 2>/dev/null || true
  for pid in "${services[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$broker" ] && kill -TERM "$broker" 2>/dev/null && wait "$broker" 2>/dev/null || true
  echo "run-local: stopped. Files are in $DATA/, logs in $LOGS/." >&2
}
trap shutdown INT TERM EXIT

# The broker runs in a session of its own so that Ctrl-C reaches only the
# services: it must outlive them while they commit.
setsid bin/localkafka -addr "$ADDR" -data "$DATA/kafka" 2>"$LOGS/broker.log" &
broker=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR##*:}") 2>/dev/null && break
  kill -0 "$broker" 2>/dev/null || { echo "run-local: broker did not start:" >&2; cat "$LOGS/broker.log" >&2; exit 1; }
  sleep 0.1
done

export KAFKA_BROKERS="$ADDR"
HTTP_ADDR=127.0.0.1:8081 bin/producer 2>"$LOGS/producer.log" &
services+=($!)
HTTP_ADDR=127.0.0.1:8082 DATA_DIR="$DATA" bin/consumer 0 2 2>"$LOGS/consumer-0-2.log" &
services+=($!)
HTTP_ADDR=127.0.0.1:8083 DATA_DIR="$DATA" bin/consumer 1 3 2>"$LOGS/consumer-1-3.log" &
services+=($!)
HTTP_ADDR=127.0.0.1:8084 bin/debug 2>"$LOGS/debug.log" &
services+=($!)

cat >&2 <<MSG
run-local: the pipeline is running on the embedded broker $ADDR.
  stats files:  $DATA/partition-{0,1,2,3}.json   (watch: watch -n1 cat $DATA/partition-0.json)
  logs:         $LOGS/{broker,producer,consumer-0-2,consumer-1-3,debug}.log
  metrics:      http://127.0.0.1:8081/metrics (producer) :8082 :8083 (consumers) :8084 (debug)
  below:        the debug consumer's lines (it starts at the end of the topic)
  Ctrl-C stops everything cleanly; run it again to continue where it stopped.
MSG
# Any service exiting on its own ends the run (its log says why).
wait -n "${services[@]}" || true
[ -n "$stopping" ] || echo "run-local: a service exited on its own; see $LOGS/" >&2
