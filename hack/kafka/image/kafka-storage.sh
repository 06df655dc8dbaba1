#!/bin/sh
# kafka-storage.sh for the e2e Kafka image, as Apache Kafka's own: the KRaft
# storage tool (format, info, random-uuid, ...), e.g.
#   kafka-storage.sh format --ignore-formatted -t CLUSTER_ID -c server.properties
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
