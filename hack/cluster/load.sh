#!/usr/bin/env bash
# Import image tars (docker-archive, from hack/images/build.sh) into the
# running e2e cluster's containerd, in the "k8s.io" namespace the kubelet's
# CRI uses. No registry is involved: pods must use imagePullPolicy
# IfNotPresent (or Never) and these exact, non-"latest" tags.
#
#   hack/cluster/load.sh [TAR...]      default: every tar in IMAGES_DIR
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($#)) || set -- "$IMAGES_DIR"/*.tar
[[ -S $CONTAINERD_SOCK ]] || die "containerd is not running ($CONTAINERD_SOCK); run hack/cluster/up.sh"
for tar in "$@"; do
	[[ -f $tar ]] || die "no image tar $tar"
	start=$SECONDS
	ctr images import "$tar" >/dev/null
	log "imported $(basename "$tar") ($((SECONDS - start))s)"
done
