#!/usr/bin/env bash
# make run: the whole pipeline on this machine, on an embedded Kafka broker
# (franz-go kfake, persisted under $RUN_DATA/kafka), no Docker needed:
#   producer -> topic temperatures (4 partitions) -> consumer 0 2, consumer 1 3 -> $RUN_DATA/partition-N.json
#                                                 -> debug (group "debug"), printed here
#   consumers -> topic temperatures-snapshots (their written states) -> dashboard, http://127.0.0.1:8081/
# Ctrl-C stops the services first (they finish their batch and checkpoint),
# then the broker. Running it again continues where it stopped. If the broker
# or a service stops on its own, the run says which and stops the rest.
#
# Settings (environment):
#   RUN_DATA         directory of the stats, logs and the broker's log   (data)
#   RUN_BROKER_ADDR  the embedded broker's address (loopback only)        (127.0.0.1:9092)
#   RUN_HTTP_PORT    first of five HTTP ports: dashboard, producer, consumers, debug (8081)
#   BIN              where make build put the binaries                    (bin)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATA=${RUN_DATA:-data}
ADDR=${RUN_BROKER_ADDR:-127.0.0.1:9092}
PORT=${RUN_HTTP_PORT:-8081}
BIN=${BIN:-bin}
LOGS="$DATA/logs"

say() { echo "run-local: $*" >&2; }
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT + 4 < 65536)) || { say "RUN_HTTP_PORT $PORT: want a port number"; exit 2; }
host=${ADDR%:*} bport=${ADDR##*:}
if port_in_use "$host" "$bport"; then
  say "$ADDR is in use (another Kafka, or another make run?): set RUN_BROKER_ADDR to another, e.g. RUN_BROKER_ADDR=$host:$((bport + 1)) make run"
  exit 2
fi
for p in $(seq "$PORT" $((PORT + 4))); do
  if port_in_use 127.0.0.1 "$p"; then
    say "HTTP port $p is in use: set RUN_HTTP_PORT to the first of five free ports, e.g. RUN_HTTP_PORT=$((p + 5)) make run"
    exit 2
  fi
done

mkdir -p "$DATA"
# This run's logs start aside and replace the previous run's (kept one run
# back) only once the broker holds the data directory: a second make run on
# the same RUN_DATA is refused before it touches anything of the first's.
NEW_LOGS="$DATA/logs.starting.$$"
rm -rf "$NEW_LOGS" && mkdir -p "$NEW_LOGS"

declare -A name_of=() # pid -> what it is
pids=()
stopping=
# launch NAME LOG CMD...: in a session of its own, so that Ctrl-C reaches
# only this script, which stops everything in order.
launch() {
  local name=$1 log=$2
  shift 2
  setsid "$@" 2>"$log" &
  name_of[$!]=$name
  pids+=($!)
}

# stop_all SIG PID...: signal them and wait, 15 s at most (a producer with
# its broker gone would wait a minute to commit), then SIGKILL.
stop_all() {
  local sig=$1 pid
  shift
  kill -"$sig" "$@" 2>/dev/null || true
  for _ in $(seq 150); do
    local alive=
    for pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  for pid; do wait "$pid" 2>/dev/null || true; done
}

shutdown() {
  trap - INT TERM EXIT
  stopping=1
  local services=() pid
  for pid in "${pids[@]}"; do
    [ "$pid" = "$broker" ] || services+=("$pid")
  done
  say "stopping the services, then the broker ..."
  stop_all TERM "${services[@]}"
  stop_all TERM "$broker"
  say "stopped. Files are in $DATA/, logs in $LOGS/ (the run before: $DATA/logs.previous/)."
}
trap 'shutdown; exit 0' INT TERM
trap shutdown EXIT

launch broker "$NEW_LOGS/broker.log" "$BIN/localkafka" -addr "$ADDR" -data "$DATA/kafka"
broker=${pids[0]}
# Ready once it has repaired what a crash may have left (see localkafka).
for _ in $(seq 300); do
  grep -q "broker (kfake) ready" "$NEW_LOGS/broker.log" 2>/dev/null && break
  if ! kill -0 "$broker" 2>/dev/null; then
    code=0
    wait "$broker" || code=$?
    trap - INT TERM EXIT
    say "the embedded broker did not start: $(cat "$NEW_LOGS/broker.log")"
    rm -rf "$NEW_LOGS"
    [ "$code" = 2 ] && exit 2 # its data directory is another run's
    exit 1
  fi
  sleep 0.1
done
if [ -d "$LOGS" ]; then rm -rf "$DATA/logs.previous" && mv "$LOGS" "$DATA/logs.previous"; fi
mv "$NEW_LOGS" "$LOGS" # the broker writes on into its log, now under logs/

export KAFKA_BROKERS="$ADDR"
HTTP_ADDR=127.0.0.1:$PORT launch dashboard "$LOGS/dashboard.log" "$BIN/dashboard"
HTTP_ADDR=127.0.0.1:$((PORT + 1)) launch producer "$LOGS/producer.log" "$BIN/producer"
HTTP_ADDR=127.0.0.1:$((PORT + 2)) DATA_DIR="$DATA" launch consumer-0-2 "$LOGS/consumer-0-2.log" "$BIN/consumer" 0 2
HTTP_ADDR=127.0.0.1:$((PORT + 3)) DATA_DIR="$DATA" launch consumer-1-3 "$LOGS/consumer-1-3.log" "$BIN/consumer" 1 3
HTTP_ADDR=127.0.0.1:$((PORT + 4)) launch debug "$LOGS/debug.log" "$BIN/debug"

cat >&2 <<MSG
run-local: the dashboard is at http://127.0.0.1:$PORT/  (API: curl http://127.0.0.1:$PORT/api/v1/stations)
run-local: the pipeline is running on the embedded broker $ADDR (pid $broker).
  stats files:  $DATA/partition-{0,1,2,3}.json   (watch: watch -n1 cat $DATA/partition-0.json)
  logs:         $LOGS/{broker,dashboard,producer,consumer-0-2,consumer-1-3,debug}.log
  metrics:      http://127.0.0.1:$((PORT + 1))/metrics (producer) :$((PORT + 2)) :$((PORT + 3)) (consumers) :$((PORT + 4)) (debug) :$PORT (dashboard)
  below:        the debug consumer's lines (it starts at the end of the topic)
  Ctrl-C stops everything cleanly; run it again to continue where it stopped.
MSG
# The first of them to stop on its own ends the run, saying which and why.
code=0
wait -n -p gone "${pids[@]}" || code=$?
[ -n "$stopping" ] && exit 0
what=${name_of[$gone]:-a process}
if [ "$what" = broker ]; then
  say "the embedded broker stopped (exit $code): the services cannot go on; see $LOGS/broker.log"
else
  say "$what stopped on its own (exit $code): $(tail -n 1 "$LOGS/$what.log" 2>/dev/null)"
fi
exit 1
