#!/bin/sh
# kafka-run-class.sh for the e2e Kafka image: runs a Kafka main class on
# /opt/kafka/libs/* the way Apache Kafka's own bin/kafka-run-class.sh does,
# honouring the same environment variables: JAVA_HOME, LOG_DIR,
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_GC_LOG_OPTS,
# KAFKA_LOG4J_OPTS, KAFKA_OPTS, and JMX_PORT/KAFKA_JMX_OPTS (JMX only when
# JMX_PORT is set).
# POSIX sh: the image's shell is busybox.
#   kafka-run-class.sh [-daemon] [-name NAME] [-loggc] MAIN_CLASS ARGS...
# -loggc writes the GC log to $LOG_DIR/NAME-gc.log, replacing
# KAFKA_GC_LOG_OPTS, exactly as upstream; -daemon is ignored (a container's
# main process stays in the foreground).
set -e
base_dir=$(cd "$(dirname "$0")/.." && pwd)

DAEMON_NAME=
GC_LOG_ENABLED=false
while [ $# -gt 0 ]; do
	case "$1" in
	-name) DAEMON_NAME=$2; shift 2 ;;
	-loggc) GC_LOG_ENABLED=true; shift ;;
	-daemon) shift ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: $0 [-daemon] [-name NAME] [-loggc] MAIN_CLASS ARGS..." >&2; exit 1; }

JAVA=${JAVA_HOME:-/opt/java/openjdk}/bin/java
LOG_DIR=${LOG_DIR:-$base_dir/logs}
[ -d "$LOG_DIR" ] || mkdir -p "$LOG_DIR"
if [ "$GC_LOG_ENABLED" = true ]; then
	KAFKA_GC_LOG_OPTS="-Xlog:gc*:file=$LOG_DIR/$DAEMON_NAME-gc.log:time,tags:filecount=10,filesize=100M"
fi
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
# Tools log warnings to stderr so their stdout stays machine-readable (as
# upstream's tools-log4j2.yaml); kafka-server-start.sh sets INFO to stdout.
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/log4j2.properties -Dkafka.log.level=WARN -Dkafka.log.target=SYSTEM_ERR}
KAFKA_LOG4J_OPTS="-Dkafka.logs.dir=$LOG_DIR $KAFKA_LOG4J_OPTS"
if [ -n "${JMX_PORT:-}" ]; then
	KAFKA_JMX_OPTS=${KAFKA_JMX_OPTS:--Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false}
	KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.port=$JMX_PORT"
fi

# The option variables are word-split on purpose, as upstream's script does.
# shellcheck disable=SC2086
exec "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ${KAFKA_GC_LOG_OPTS:-} ${KAFKA_JMX_OPTS:-} $KAFKA_LOG4J_OPTS \
	-cp "$base_dir/libs/*" ${KAFKA_OPTS:-} "$@"
