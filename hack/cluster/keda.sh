#!/usr/bin/env bash
# KEDA on the e2e cluster (the e2e's TestConsumersScaleOnLag does both; by
# hand too).
#
#   hack/cluster/keda.sh install     KEDA's CRDs, operator and metrics API
#                                    server (addons/keda.yaml: its module's
#                                    config/minimal, our images); returns once
#                                    the external metrics API answers
#   hack/cluster/keda.sh uninstall   every ScaledObject deleted first (the
#                                    operator must remove their finalizers),
#                                    then all of KEDA, the APIService with it
#
# The version is hack/images/images.sh's KEDA_VERSION (the binaries, images
# and these manifests come from that one module), which must be the one the
# chart's tests take KEDA's CRDs from (kedaVersion in charts/).
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f $KUBECONFIG_ADMIN ]] || die "no cluster ($KUBECONFIG_ADMIN missing): run hack/cluster/up.sh"
chart_keda=$(grep -rhoP '^\s*kedaVersion\s*=\s*"\K[^"]+' "$REPO/charts" --include='*.go' | head -n 1 || true)
if [[ -z $chart_keda ]]; then
	log "warning: no kedaVersion in charts/*.go: cannot check that the chart is tested against KEDA $KEDA_VERSION's CRDs"
elif [[ $chart_keda != "$KEDA_VERSION" ]]; then
	die "KEDA $KEDA_VERSION here (hack/images/images.sh), $chart_keda in the chart's tests (charts/, kedaVersion): make them one"
fi
KUSTOMIZATION=$CLUSTER_DIR/keda

# render: addons/keda.yaml with KEDA's config/ (in the module cache, where
# hack/k8s/bins.sh builds it from) and our images, as a kustomization.
render() {
	local dir
	dir=$(keda_dir) || die "no KEDA module"
	[[ -d $dir/config/minimal ]] || die "github.com/kedacore/keda/v2@$KEDA_VERSION: no config/minimal in $dir"
	mkdir -p "$KUSTOMIZATION"
	sed -e "s|@KEDA_CONFIG@|$(realpath --relative-to="$KUSTOMIZATION" "$dir/config")|" \
		-e "s|@IMG_KEDA_OPERATOR_REPO@|$IMG_KEDA_OPERATOR_REPO|" -e "s|@IMG_KEDA_ADAPTER_REPO@|$IMG_KEDA_ADAPTER_REPO|" \
		-e "s|@IMG_KEDA_TAG@|$IMG_KEDA_TAG|" "$CLUSTER_HACK/addons/keda.yaml" >"$KUSTOMIZATION/kustomization.yaml"
}

case ${1:-} in
install)
	start=$SECONDS
	render
	# Server-side: the ScaledJob CRD is too big for the annotation of a
	# client-side apply.
	kubectl apply --server-side --force-conflicts -k "$KUSTOMIZATION" >&2
	kubectl -n keda rollout status deployment/keda-operator --timeout=3m >&2
	# Its certificates come from the operator: it waits for them.
	kubectl -n keda rollout status deployment/keda-metrics-apiserver --timeout=3m >&2
	kubectl wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=2m >&2
	wait_for 60 "the external metrics API" kubectl get --raw /apis/external.metrics.k8s.io/v1beta1
	log "KEDA $KEDA_VERSION installed, the external metrics API served ($((SECONDS - start))s)"
	;;
uninstall)
	start=$SECONDS
	render
	if kubectl get crd scaledobjects.keda.sh >/dev/null 2>&1; then
		kubectl delete scaledobjects.keda.sh --all-namespaces --all --wait=true --timeout=2m >&2
	fi
	kubectl delete -k "$KUSTOMIZATION" --ignore-not-found --wait=true --timeout=3m >&2
	log "KEDA uninstalled ($((SECONDS - start))s)"
	;;
*) die "usage: $0 install|uninstall" ;;
esac
