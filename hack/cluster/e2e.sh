#!/usr/bin/env bash
# Run the chart's end-to-end test (hack/cluster/e2e, a Go test in its own
# module) against the cluster of hack/cluster/up.sh, with the locally built
# images. Only image values differ from the chart's defaults: the tags of the
# project's images (hack/images/build.sh tags them "$IMAGE_TAG") and the Kafka
# image (built from the Maven Central jars, apache/kafka's layout).
#
#   hack/cluster/e2e.sh [go test flags, e.g. -run TestChart]
#
# The upgrade step (e2e/upgrade_test.go) installs the previous chart with its
# own images first: hack/images/previous.sh builds them (cached) and they are
# imported here if the cluster's containerd lacks them.
#
# Env: E2E_NAMESPACE, E2E_SECURE_NAMESPACE, E2E_THREE_BROKERS_NAMESPACE,
# E2E_UPGRADE_NAMESPACE, E2E_RELEASE (see hack/cluster/e2e/*_test.go).
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f $KUBECONFIG_ADMIN ]] || die "no cluster ($KUBECONFIG_ADMIN missing): run hack/cluster/up.sh"
[[ -x $K8S_BIN/helm ]] || die "$K8S_BIN/helm missing: run hack/k8s/bins.sh cluster"

export KUBECONFIG=$KUBECONFIG_ADMIN
export E2E_KUBECTL=$K8S_BIN/kubectl
export E2E_HELM=$K8S_BIN/helm
export E2E_CHART=$REPO/charts/weather
# TestChartOnTwoNodes stops and starts the second node with it.
export E2E_NODE_CTL=$CLUSTER_HACK/node.sh
# TestConsumersScaleOnLag installs KEDA with it, and removes it after.
export E2E_KEDA_CTL=$CLUSTER_HACK/keda.sh
export E2E_HELM_SET="
producer.image.tag=$IMAGE_TAG
consumer.image.tag=$IMAGE_TAG
debug.image.tag=$IMAGE_TAG
dashboard.image.tag=$IMAGE_TAG
controller.image.tag=$IMAGE_TAG
kafka.image.repository=$IMG_KAFKA_REPO
kafka.image.tag=$IMG_KAFKA_TAG
"
# The project's images must be the chart's default repositories: only the
# tag may differ from what users get.
values=$(cat "$REPO/charts/weather/values.yaml")
for repo in "$IMG_PRODUCER_REPO" "$IMG_CONSUMER_REPO" "$IMG_CONTROLLER_REPO"; do
	grep -q "repository: $repo\$" <<<"$values" ||
		die "charts/weather/values.yaml does not default to $repo (hack/images/images.sh)"
done

# Every image the chart will run must be in every node's containerd: a
# missing one would only show as ImagePullBackOff when helm --wait times out.
sets=()
for v in $E2E_HELM_SET; do sets+=(--set "$v"); done
have=$(images_on_all_nodes)
missing=()
for img in $("$E2E_HELM" template e2e "$E2E_CHART" "${sets[@]}" | awk '$1 == "image:" || $1 == "-" && $2 == "image:" { print $NF }' | tr -d '"' | sort -u); do
	# containerd names images fully: docker.io/library/x for a bare x.
	ref=$img
	[[ $ref == */* ]] || ref=library/$ref
	[[ ${ref%%/*} == *.* || ${ref%%/*} == localhost ]] || ref=docker.io/$ref
	grep -qxF "$ref" <<<"$have" || missing+=("$img")
done
((${#missing[@]} == 0)) || die "the chart runs images that are not built and imported: ${missing[*]} (hack/images/build.sh, hack/images/images.sh)"

# The previous chart (before per-pod volumes) and its own images, tagged
# prev-<commit>: built by hack/images/previous.sh, imported if missing.
eval "$("$REPO/hack/images/previous.sh")"
for name in producer consumer controller kafka; do
	ref=$(tar -xOf "$PREVIOUS_IMAGES/$name.tar" manifest.json | jq -r '.[0].RepoTags[0]')
	grep -qxF "$ref" <<<"$have" || "$CLUSTER_HACK/load.sh" "$PREVIOUS_IMAGES/$name.tar"
done
export E2E_PREVIOUS_CHART=$PREVIOUS_CHART
export E2E_PREVIOUS_HELM_SET="
producer.image.tag=$PREVIOUS_TAG
consumer.image.tag=$PREVIOUS_TAG
debug.image.tag=$PREVIOUS_TAG
dashboard.image.tag=$PREVIOUS_TAG
controller.image.tag=$PREVIOUS_TAG
kafka.image.repository=$PREVIOUS_KAFKA_REPO
kafka.image.tag=$PREVIOUS_KAFKA_TAG
"
log "previous chart ${PREVIOUS_COMMIT:0:7} ($PREVIOUS_CHART), images tagged $PREVIOUS_TAG"

cd "$CLUSTER_HACK/e2e"
# -v streams the phases as they run; the summary table comes at the end.
GOWORK=off go test -count=1 -v -timeout 40m "$@" .
