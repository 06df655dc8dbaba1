#!/usr/bin/env bash
# make test-e2e: the Helm chart end to end on a Kubernetes of our own.
#
#   1. hack/k8s/bins.sh cluster   Kubernetes v1.34, etcd, CoreDNS, local-path, helm,
#                                 KEDA (built from the Go module proxy; cached: ~14 min
#                                 cold on 2 cores, + ~8.5 min KEDA, seconds when cached)
#   2. hack/images/build.sh       the images (KEDA's too), without a container engine;
#      hack/images/previous.sh    and the previous chart's, from its own commit
#                                 (the upgrade step; cached)
#   3. hack/cluster/up.sh         a two-node cluster: the second node in a network
#                                 namespace of its own (root; ~30 s; E2E_NODES=1:
#                                 one node, and TestChartOnTwoNodes skips)
#   4. hack/cluster/e2e.sh        helm install + the checks (hack/cluster/e2e); the
#                                 scaling test installs KEDA itself (hack/cluster/keda.sh)
#   5. hack/cluster/down.sh       always, even on failure or Ctrl-C: nothing is left
#
# E2E_RUN selects the e2e tests (go test -run, e.g. E2E_RUN=TestChartOnThreeBrokers;
# default all). Prints how long each step took. Set E2E_KEEP_CLUSTER=1 to skip step 5 after
# a failure, to look around (KUBECONFIG=/var/tmp/weather-cluster/admin.kubeconfig,
# kubectl in .cache/k8s/v1.34.4/bin); hack/cluster/down.sh removes it later.
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

[[ $(id -u) == 0 ]] || die "make test-e2e runs a kubelet and containerd: it needs root"

STEPS=()
step() {
	local name=$1 start=$SECONDS rc=0
	shift
	log "== $name"
	"$@" || rc=$?
	STEPS+=("$(printf '%6ds  %s%s' $((SECONDS - start)) "$name" "$( ((rc == 0)) || echo " (FAILED, exit $rc)")")")
	return "$rc"
}

summary() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ $(cat "$CLUSTER_DIR/owner" 2>/dev/null) != "$CLUSTER_OWNER" ]]; then
		: # not ours (up.sh refused, or never ran): nothing to tear down
	elif [[ $rc != 0 && ${E2E_KEEP_CLUSTER:-} == 1 && -e $CLUSTER_DIR ]]; then
		log "E2E_KEEP_CLUSTER=1: the cluster stays up; remove it with hack/cluster/down.sh"
	elif [[ -e $CLUSTER_DIR ]]; then
		step "cluster down (hack/cluster/down.sh)" "$CLUSTER_HACK/down.sh" || rc=1
	fi
	{
		echo
		echo "make test-e2e: $( ((rc == 0)) && echo PASS || echo FAIL) in $((SECONDS))s"
		printf '  %s\n' "${STEPS[@]}"
	} >&2
	exit "$rc"
}

# A cluster left behind by an interrupted make test-e2e would stop up.sh:
# clear it. Any other (make cluster-up's, one being made) is not ours to
# tear down.
if [[ -e $CLUSTER_DIR ]]; then
	owner=$(cat "$CLUSTER_DIR/owner" 2>/dev/null || echo "unknown (no $CLUSTER_DIR/owner)")
	pid=${owner#make test-e2e, pid }
	if [[ $owner == "make test-e2e, pid "* ]] && ! kill -0 "$pid" 2>/dev/null; then
		step "leftover cluster of an interrupted make test-e2e down (hack/cluster/down.sh)" "$CLUSTER_HACK/down.sh"
	else
		die "a cluster is up in $CLUSTER_DIR, made by $owner: make test-e2e does not tear down a cluster it did not create. Remove it with make cluster-down, then run make test-e2e again"
	fi
fi
export CLUSTER_OWNER="make test-e2e, pid $$"
trap summary EXIT
trap 'exit 130' INT TERM

step "Kubernetes binaries (hack/k8s/bins.sh cluster)" hack/k8s/bins.sh cluster >/dev/null
step "images (hack/images/build.sh)" hack/images/build.sh >/dev/null
step "the previous chart's images, for the upgrade step (hack/images/previous.sh)" hack/images/previous.sh >/dev/null
step "cluster up, $E2E_NODES node(s) (hack/cluster/up.sh)" "$CLUSTER_HACK/up.sh" >/dev/null
step "helm install and checks (hack/cluster/e2e.sh${E2E_RUN:+ -run $E2E_RUN})" "$CLUSTER_HACK/e2e.sh" ${E2E_RUN:+-run "$E2E_RUN"}
