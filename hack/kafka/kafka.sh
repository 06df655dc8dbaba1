#!/usr/bin/env bash
# Run a real single-node Apache Kafka 4.x broker (KRaft, combined
# broker+controller) from Maven Central jars -- no Docker, no tarball.
#
# Usage:
#   hack/kafka/kafka.sh install              fetch jars into $KAFKA_HOME/libs (once)
#   hack/kafka/kafka.sh start                start a broker; prints "127.0.0.1:<port>"
#   hack/kafka/kafka.sh stop                 stop it and delete its data dir
#   hack/kafka/kafka.sh start-secure         start a second, secured broker beside it: TLS,
#                                            mutual TLS and SASL_SSL (SCRAM-SHA-512, PLAIN)
#                                            listeners, the KRaft authorizer with no ACLs;
#                                            prints its directory (secure.json: listeners,
#                                            CA, certificates, users), made by
#                                            hack/kafka/securekafka
#   hack/kafka/kafka.sh stop-secure          stop the secured broker
#   hack/kafka/kafka.sh cluster [N]          run N KRaft nodes (default 3) behind Toxiproxy
#                                            in the foreground until Ctrl-C; prints a line per
#                                            node, then "brokers=<a,b,c> toxiproxy=<url>"
#                                            (hack/kafka/kafkacluster; data in
#                                            $KAFKA_CLUSTER_DIR, kept: rm -rf it to start empty)
#   hack/kafka/kafka.sh tool <Main> args...  run a Kafka main class, e.g.
#       hack/kafka/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --list
#       hack/kafka/kafka.sh tool org.apache.kafka.tools.ProducerPerformance ...
#
# Typical use:  KAFKA_BROKERS=$(hack/kafka/kafka.sh start); ...; hack/kafka/kafka.sh stop
#
# Only `start` (the broker address) and `cluster` write to stdout; everything else goes to
# stderr so command substitution stays clean.
#
# Environment:
#   KAFKA_HOME            cache/run dir            (default: <repo>/.cache/kafka)
#   KAFKA_DATA_DIR        broker data dir          (default: $KAFKA_HOME/run-<port>)
#   KAFKA_HEAP            broker heap flags        (default: -Xmx512m -Xms256m)
#   KAFKA_OPTS            extra broker JVM flags   (e.g. JMX, profiler agents)
#   KAFKA_TOOL_HEAP       heap flags for `tool`    (default: -Xmx512m)
#   KAFKA_CLUSTER_ID      cluster id for format    (default: fixed, see below)
#   KAFKA_START_TIMEOUT   seconds to wait on start (default: 60)
#   KAFKA_KEEP_DATA=1     `stop` keeps the data dir (logs, segments)
#   KAFKA_CLUSTER_DIR     `cluster`'s root dir     (default: $KAFKA_HOME/cluster)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
POM="$REPO/hack/kafka/pom.xml"
LOG4J_CONFIG="$REPO/hack/kafka/log4j2.properties"
KAFKA_HOME="${KAFKA_HOME:-$REPO/.cache/kafka}"
LIBS="$KAFKA_HOME/libs"
# line 1: broker address, line 2: data dir; one per instance (the plain
# broker, or the secured one of start-secure).
KAFKA_INSTANCE="${KAFKA_INSTANCE:-}"
CURRENT="$KAFKA_HOME/current${KAFKA_INSTANCE:+-$KAFKA_INSTANCE}"

# Fixed so runs are reproducible; any base64url-encoded 16-byte UUID works
# (generate one with: hack/kafka/kafka.sh tool kafka.tools.StorageTool random-uuid).
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-E49c5acNQN6_lz3TYxLoGw}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
KAFKA_TOOL_HEAP="${KAFKA_TOOL_HEAP:--Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The version lives in one place: the pom.
kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM"
}

# ---------------------------------------------------------------- install ---

cmd_install() {
  command -v java >/dev/null || die "java not found (need Java 17+)"
  # The stamp records the pom's checksum, not just the Kafka version, so any
  # pom edit (e.g. a log4j bump) triggers a reinstall.
  local stamp_want
  stamp_want="kafka=$(kafka_version) pom=$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$LIBS/.installed" && "$(cat "$LIBS/.installed")" == "$stamp_want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka jars)"
  mkdir -p "$KAFKA_HOME"

  # Parallel test runs may all call install; serialize them, then re-check.
  exec 9>"$KAFKA_HOME/.install.lock"
  flock 9
  if [[ -f "$LIBS/.installed" && "$(cat "$LIBS/.installed")" == "$stamp_want" ]]; then
    exec 9>&-
    return 0
  fi

  log "installing Kafka $(kafka_version) jars into $LIBS (one-time) ..."
  # Copy into a fresh dir and swap it in: the classpath is "libs/*", so
  # leftover jars from an older version would end up on it too.
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  # Maven's stdout goes to stderr so `start`'s stdout stays just the address.
  mvn -B -q -f "$POM" -Dkafka.libs="$tmp" package >&2
  echo "$stamp_want" >"$tmp/.installed"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  exec 9>&-
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# ------------------------------------------------------------------- start ---

# Prints $1 distinct free loopback ports. All sockets are held open until
# all are chosen, so the ports differ. Small race with other processes
# grabbing them before Kafka binds; acceptable for tests.
free_ports() {
  local n=$1
  if command -v python3 >/dev/null && python3 -c 'pass' 2>/dev/null; then
    python3 - "$n" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
  else
    # Fallback: random high ports that nobody answers on.
    local ports=() p
    while ((${#ports[@]} < n)); do
      p=$((20000 + RANDOM % 40000))
      [[ " ${ports[*]-} " == *" $p "* ]] && continue
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
      ports+=("$p")
    done
    echo "${ports[@]}"
  fi
}

# True if $1 is a live Kafka broker process. On Linux, check the command line:
# a SIGKILLed broker lingers as a zombie (empty cmdline) until init reaps it,
# which in some containers takes seconds, and a stale pid file may point at a
# recycled pid. Elsewhere fall back to kill -0.
pid_alive() {
  local pid="${1:-}"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -d /proc/$pid ]] || return 0
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *kafka.Kafka* ]]
}

cmd_start() {
  cmd_install

  # One broker per KAFKA_HOME: `current` is how `stop` finds it.
  if [[ -f "$CURRENT" ]]; then
    local old_addr old_dir
    { read -r old_addr; read -r old_dir; } <"$CURRENT" || true
    if pid_alive "$(cat "$old_dir/kafka.pid" 2>/dev/null)"; then
      die "a broker is already running at $old_addr (data dir $old_dir); run '$0 stop' first"
    fi
    # The last broker died without `stop`; clean up after it the same way.
    log "previous broker at $old_addr is gone; cleaning up"
    cmd_stop
  fi

  local port cport sasl_port tls_port
  read -r port cport tls_port sasl_port < <(free_ports 4)
  local dir="${KAFKA_DATA_DIR:-$KAFKA_HOME/run-${KAFKA_INSTANCE:+$KAFKA_INSTANCE-}$port}"
  # `stop` rm -rf's this dir, so never adopt a non-empty dir we didn't create.
  if [[ -d "$dir" && -n "$(ls -A "$dir")" && ! -f "$dir/server.properties" ]]; then
    die "KAFKA_DATA_DIR $dir is not empty and was not created by kafka.sh"
  fi
  # One broker per log directory. Kafka's own .lock refuses a second one only
  # after its KRaft controller has written to the shared metadata log: seen
  # with 4.1.1, the first broker then never reaches its controller again.
  if pid_alive "$(cat "$dir/kafka.pid" 2>/dev/null)"; then
    die "KAFKA_DATA_DIR $dir is in use by the broker of pid $(cat "$dir/kafka.pid"): one broker per log directory; stop it first, or use another directory"
  fi
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local props="$dir/server.properties"

  # The listeners: one PLAINTEXT, or (start-secure) the secured ones, with
  # $port the mutual TLS one the broker talks to itself on.
  local listeners
  if [[ $KAFKA_INSTANCE == secure ]]; then
    listeners=$(cd "$REPO/hack" && go run ./kafka/securekafka init -dir "$dir/security" \
      -tls "$tls_port" -mtls "$port" -sasl "$sasl_port" -controller "$cport")
  else
    listeners="listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER"
  fi

  cat >"$props" <<PROPS
# Generated by hack/kafka/kafka.sh: single node, KRaft, combined broker+controller.
process.roles=broker,controller
node.id=1
$listeners
# Static quorum of one voter (this node); formatting then needs no --standalone.
controller.quorum.voters=1@127.0.0.1:$cport
log.dirs=$dir/data

# Topics are created explicitly by whoever uses the broker.
num.partitions=1
auto.create.topics.enable=false

# Internal topics default to RF 3 / min ISR 2, which a single broker can never
# satisfy (consumer groups, transactions and share groups would hang).
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Don't wait 3 s for more members before the first group rebalance.
group.initial.rebalance.delay.ms=0
PROPS

  # Format the KRaft metadata log. --ignore-formatted lets a reused
  # KAFKA_DATA_DIR (same cluster id) start again.
  # shellcheck disable=SC2086  # heap flags are meant to word-split
  java $KAFKA_TOOL_HEAP -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.log.level=WARN -Dkafka.log.target=SYSTEM_ERR \
    -cp "$LIBS/*" kafka.tools.StorageTool format \
    --config "$props" --cluster-id "$KAFKA_CLUSTER_ID" --ignore-formatted >&2

  local logfile="$dir/kafka.log"
  log "starting broker on 127.0.0.1:$port (controller :$cport), log: $logfile"
  # setsid: own session, so Ctrl-C in the caller's terminal doesn't kill it.
  # All fds redirected, so $(hack/kafka/kafka.sh start) doesn't wait on the broker.
  # (bash without job control doesn't make the child a group leader, so
  # setsid execs in place and $! is the java pid.)
  # shellcheck disable=SC2086  # heap flags are meant to word-split
  setsid java $KAFKA_HEAP ${KAFKA_OPTS:-} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -cp "$LIBS/*" kafka.Kafka "$props" \
    </dev/null >>"$logfile" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/kafka.pid"

  # Ready = the broker logged that startup finished (in KRaft that happens
  # after it is unfenced, i.e. can host partitions) AND the port accepts.
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until grep -q "Kafka Server started" "$logfile" 2>/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! pid_alive "$pid"; then
      tail -n 40 "$logfile" >&2 || true
      die "broker exited during startup (data dir kept: $dir)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$logfile" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
      die "broker not ready after ${KAFKA_START_TIMEOUT}s (data dir kept: $dir)"
    fi
    sleep 0.2
  done

  printf '%s\n%s\n' "127.0.0.1:$port" "$dir" >"$CURRENT"
  log "broker ready (pid $pid)"
  if [[ $KAFKA_INSTANCE == secure ]]; then
    (cd "$REPO/hack" && go run ./kafka/securekafka setup -dir "$dir/security")
    echo "$dir/security"
  else
    echo "127.0.0.1:$port"
  fi
}

# -------------------------------------------------------------------- stop ---

cmd_stop() {
  if [[ ! -f "$CURRENT" ]]; then
    log "no broker recorded in $CURRENT; nothing to stop"
    return 0
  fi
  local addr dir pid
  { read -r addr; read -r dir; } <"$CURRENT" || true
  pid="$(cat "$dir/kafka.pid" 2>/dev/null || true)"

  if pid_alive "$pid"; then
    log "stopping broker $addr (pid $pid)"
    # SIGTERM = clean shutdown (flushes logs, leaves the quorum properly).
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "$pid"; then
      log "still running after 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  else
    log "broker $addr is not running"
  fi

  if [[ "${KAFKA_KEEP_DATA:-0}" == 1 ]]; then
    log "keeping data dir $dir"
  elif [[ -n "$dir" && -d "$dir" ]]; then
    rm -rf "$dir"
  fi
  rm -f "$CURRENT"
}

# -------------------------------------------------------------------- tool ---

cmd_tool() {
  (($# >= 1)) || die "usage: $0 tool <MainClass> [args...]"
  cmd_install
  # Tools log WARN+ to stderr, so their stdout (e.g. perf stats) stays parseable.
  # shellcheck disable=SC2086  # heap flags are meant to word-split
  exec java $KAFKA_TOOL_HEAP -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.log.level=WARN -Dkafka.log.target=SYSTEM_ERR \
    -cp "$LIBS/*" "$@"
}

# ----------------------------------------------------------------- cluster ---

cmd_cluster() {
  local nodes="${1:-3}"
  cmd_install
  # Built, then exec'd: `go run` would sit between a SIGTERM and the
  # cluster, which shuts its nodes down cleanly on SIGINT/SIGTERM.
  local bin="$KAFKA_HOME/bin/kafkacluster"
  (cd "$REPO/hack" && go build -o "$bin" ./kafka/kafkacluster) >&2
  exec "$bin" -nodes "$nodes" -dir "${KAFKA_CLUSTER_DIR:-$KAFKA_HOME/cluster}" \
    -libs "$LIBS" -heap "$KAFKA_HEAP"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  start-secure) KAFKA_INSTANCE=secure CURRENT="$KAFKA_HOME/current-secure" cmd_start ;;
  stop-secure) KAFKA_INSTANCE=secure CURRENT="$KAFKA_HOME/current-secure" cmd_stop ;;
  tool) shift; cmd_tool "$@" ;;
  cluster) shift; cmd_cluster "$@" ;;
  *) usage ;;
esac
