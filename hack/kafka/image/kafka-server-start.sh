#!/bin/sh
# kafka-server-start.sh for the e2e Kafka image, as Apache Kafka's own:
#   kafka-server-start.sh [-daemon] server.properties [--override property=value]*
# runs kafka.Kafka with a 1 GiB heap unless KAFKA_HEAP_OPTS says otherwise,
# logging at INFO to stdout. EXTRA_ARGS (unset: "-name kafkaServer -loggc")
# go to kafka-run-class.sh; -loggc writes the GC log to
# $LOG_DIR/kafkaServer-gc.log and overrides KAFKA_GC_LOG_OPTS, as upstream.
if [ $# -lt 1 ]; then
	echo "USAGE: $0 [-daemon] server.properties [--override property=value]*" >&2
	exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/log4j2.properties}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
EXTRA_ARGS=${EXTRA_ARGS-'-name kafkaServer -loggc'}
if [ "$1" = -daemon ]; then
	EXTRA_ARGS="-daemon $EXTRA_ARGS"
	shift
fi
# EXTRA_ARGS is a list of words, as upstream.
# shellcheck disable=SC2086
exec "$base_dir/bin/kafka-run-class.sh" $EXTRA_ARGS kafka.Kafka "$@"
