#!/usr/bin/env bash
# Import image tars (docker-archive, from hack/images/build.sh) into the
# running e2e cluster's containerd of every node (each has a store of its
# own), in the "k8s.io" namespace the kubelet's CRI uses. No registry is
# involved: pods must use imagePullPolicy IfNotPresent (or Never) and these
# exact, non-"latest" tags.
#
#   hack/cluster/load.sh [TAR...]      default: every tar in IMAGES_DIR
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($#)) || set -- "$IMAGES_DIR"/*.tar
[[ -S $CONTAINERD_SOCK ]] || die "containerd is not running ($CONTAINERD_SOCK); run hack/cluster/up.sh"
for tar in "$@"; do
	[[ -f $tar ]] || die "no image tar $tar"
done
# import SOCKET NODE: every tar into one node's containerd.
import() {
	local tar start
	for tar in "${@:3}"; do
		start=$SECONDS
		command ctr -a "$1" -n k8s.io images import "$tar" >/dev/null
		log "imported $(basename "$tar") on $2 ($((SECONDS - start))s)"
	done
}
# The nodes side by side: each import is mostly one containerd unpacking.
pids=()
for sock in $(node_sockets); do
	node=$NODE_NAME
	[[ $sock == "$NODE2_CONTAINERD_SOCK" ]] && node=$NODE2_NAME
	import "$sock" "$node" "$@" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid" || die "importing images failed"
done
