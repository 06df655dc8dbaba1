#!/bin/sh
# /__cacert_entrypoint.sh of the e2e's Kafka stand-in (hack/images/build.sh).
# The official image's entrypoint (eclipse-temurin's) adds the system's and
# /certificates' CA certificates to the JVM's truststore when
# USE_SYSTEM_CA_CERTS is set, then runs its arguments. The stand-in runs its
# arguments and refuses USE_SYSTEM_CA_CERTS rather than ignore it.
set -e
if [ -n "${USE_SYSTEM_CA_CERTS:-}" ]; then
	echo "$0: the e2e's Kafka stand-in does not import CA certificates (USE_SYSTEM_CA_CERTS is set)" >&2
	exit 1
fi
exec "$@"
