#!/bin/sh
# /etc/kafka/docker/run of the e2e's Kafka stand-in (hack/images/build.sh):
# the official image's command, which configures the broker from KAFKA_*
# variables, formats its storage and starts it. The stand-in does not do
# that; the chart never runs it (its container has a command of its own).
# Stop clearly rather than start something else.
echo "$0: the e2e's Kafka stand-in has no environment-driven start; give the container a command (the chart's: kafka-storage.sh format, kafka-server-start.sh)" >&2
exit 1
