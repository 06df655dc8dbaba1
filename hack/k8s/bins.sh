#!/usr/bin/env bash
# Build (once) and cache the Kubernetes-related binaries the project needs,
# and the Go tools its tests run (pinned in hack/tools).
#
#   hack/k8s/bins.sh envtest        kube-apiserver, etcd, kubectl (controller-runtime envtest)
#   hack/k8s/bins.sh cluster|all    everything for the e2e cluster (KEDA too)
#   hack/k8s/bins.sh lint           golangci-lint
#   hack/k8s/bins.sh chartlint      kube-score (make chart-lint)
#   hack/k8s/bins.sh keda           KEDA's operator and metrics API server (make test-e2e)
#   hack/k8s/bins.sh NAME...        just these binaries (names as in spec() below)
#
# The only line on stdout is the bin dir, so callers can do
#   KUBEBUILDER_ASSETS=$(hack/k8s/bins.sh envtest)
# Everything else (go build output, progress, timings) goes to stderr.
#
# Why build at all: these machines reach only package registries, so no release
# tarball can be downloaded; the Go module proxy has every source we need.
# A cold build is ~14 min of both cores, so each binary is cached under
#   ${K8S_CACHE:-<repo>/.cache/k8s}/v1.34.4/bin/
# with a stamp keyed on its module's go.mod/go.sum/sources, its build flags and
# the Go toolchain version; it is rebuilt only when one of those changes.
#
# Env: K8S_CACHE (cache root), GOCACHE/GOMODCACHE (as usual for go).
set -euo pipefail

# stdout is reserved for the bin dir: send everything else to stderr.
exec 3>&1 1>&2

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

K8S_VERSION=v1.34.4
K8S_MAJOR=1
K8S_MINOR=34

# KEDA_VERSION and keda_dir.
# shellcheck source=hack/images/images.sh
source "$REPO/hack/images/images.sh"

CACHE_ROOT=${K8S_CACHE:-$REPO/.cache/k8s}
OUT=$CACHE_ROOT/$K8S_VERSION
BIN=$OUT/bin
STAMPS=$OUT/stamps
mkdir -p "$BIN" "$STAMPS"

# Flags common to every build. -trimpath and the fixed ldflags make the output
# byte-for-byte reproducible; -mod=readonly builds exactly what go.mod/go.sum
# pin (run `go mod tidy` in the module after changing a version).
GO_BUILD_FLAGS=(-trimpath -mod=readonly -buildvcs=false)

# Build order matters: envtest users need kube-apiserver and etcd soonest.
ENVTEST=(kube-apiserver etcd kubectl)
CLUSTER=(kube-apiserver etcd kubectl kubelet kube-controller-manager kube-scheduler kube-proxy
	coredns local-path-provisioner helm keda-operator keda-adapter)
# KEDA (the e2e's scaling on lag): its version and module are hack/images/images.sh's.
KEDA=(keda-operator keda-adapter)

# Version info baked into the Kubernetes binaries (what upstream's
# hack/lib/version.sh sets); without it they report v0.0.0-master.
# buildDate is fixed so the build is reproducible.
k8s_ldflags() {
	local pkg flags=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
		flags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=archive -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	echo "$flags"
}

# spec NAME -> sets MOD (module dir), PKG (package to build), CGO, TAGS, LDFLAGS.
# Everything is static (CGO_ENABLED=0). Upstream's release build lists every
# server binary but the kubelet as static (the kubelet gets cgo when a C
# compiler is around); it builds fine without cgo, and a static binary has no
# dependency on the host's libc.
# The k8s tags are upstream's release tags (hack/lib/golang.sh): selinux
# support, no test hooks, and grpcnotrace to let the linker drop x/net/trace.
spec() {
	CGO=0 TAGS="" LDFLAGS="-s -w"
	case "$1" in
	kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy | kubectl)
		MOD=$HERE/bins PKG=k8s.io/kubernetes/cmd/$1
		TAGS=selinux,notest,grpcnotrace
		LDFLAGS+=$(k8s_ldflags)
		;;
	etcd) MOD=$HERE/etcd PKG=. ;;
	coredns) MOD=$HERE/coredns PKG=. TAGS=grpcnotrace ;;
	local-path-provisioner)
		MOD=$HERE/localpath PKG=github.com/rancher/local-path-provisioner
		LDFLAGS+=" -X main.VERSION=$(modver "$MOD" github.com/rancher/local-path-provisioner)"
		;;
	golangci-lint)
		MOD=$REPO/hack/tools PKG=github.com/golangci/golangci-lint/v2/cmd/golangci-lint
		LDFLAGS+=" -X main.version=$(modver "$MOD" github.com/golangci/golangci-lint/v2) -X main.date=1970-01-01T00:00:00Z"
		;;
	kube-score)
		MOD=$REPO/hack/tools/kubescore PKG=github.com/zegl/kube-score/cmd/kube-score
		LDFLAGS+=" -X main.version=$(modver "$MOD" github.com/zegl/kube-score) -X main.date=1970-01-01T00:00:00Z"
		;;
	promtool) # make chart-rules: promtool check/test rules on the chart's alerts
		MOD=$REPO/hack/tools/promtool PKG=github.com/prometheus/prometheus/cmd/promtool
		LDFLAGS+=" $(prom_ldflags "$(modver "$MOD" github.com/prometheus/prometheus)")"
		;;
	keda-operator | keda-adapter)
		# Built in KEDA's own module (from the module cache): its go.mod's
		# replace and exclude directives apply only there. The version as
		# KEDA's Makefile sets it.
		MOD=$(keda_dir) || exit 1
		PKG=./cmd/${1#keda-}
		LDFLAGS+=" -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v} -X github.com/kedacore/keda/v2/version.GitCommit="
		;;
	helm)
		MOD=$HERE/helm PKG=helm.sh/helm/v3/cmd/helm
		# As helm's Makefile: the version, and the k8s version the chart
		# Capabilities default to (major+1 of client-go's v0.x, i.e. 1.34).
		LDFLAGS+=" -X helm.sh/helm/v3/internal/version.version=$(modver "$MOD" helm.sh/helm/v3)"
		LDFLAGS+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
		LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$K8S_MAJOR"
		LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR"
		LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$K8S_MAJOR"
		LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR"
		;;
	*)
		echo "bins.sh: unknown binary '$1'" >&2
		exit 2
		;;
	esac
}

# modver DIR MODULE: the version DIR's go.mod requires (read with plain text
# tools: cheap, and works before any download).
modver() {
	awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# prom_ldflags MODVERSION: the version promtool reports (what Prometheus'
# promu sets). Prometheus 3.X.Y is the Go module v0.30X.Y (v0.3XY.Y from 3.10).
prom_ldflags() {
	local minor patch pkg=github.com/prometheus/common/version
	IFS=. read -r _ minor patch <<<"${1#v}"
	echo "-X $pkg.Version=3.$((10#$minor - 300)).$patch -X $pkg.Revision= -X $pkg.Branch= -X $pkg.BuildUser= -X $pkg.BuildDate=19700101-00:00:00"
}

# The stamp key: everything that decides the bytes of the binary.
stamp_key() {
	{
		echo "$K8S_VERSION $PKG cgo=$CGO flags=${GO_BUILD_FLAGS[*]} tags=$TAGS ldflags=$LDFLAGS"
		# in the module dir: its go.mod may select another toolchain
		(cd "$MOD" && GOWORK=off go env GOVERSION GOOS GOARCH)
		# the module's own files: go.mod, go.sum, and any main package sources
		(cd "$MOD" && find . -maxdepth 1 -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort | xargs sha256sum)
	} | sha256sum | cut -d' ' -f1
}

build() {
	local name=$1 key start secs
	spec "$name"
	key=$(stamp_key)
	# One builder per binary at a time: a second caller (e.g. a test asking for
	# envtest while the background cluster build runs) waits, then finds it done.
	exec 9>"$STAMPS/$name.lock"
	flock 9
	if [[ -x $BIN/$name && -f $STAMPS/$name && $(cat "$STAMPS/$name") == "$key" ]]; then
		echo "bins.sh: $name up to date" >&2
		exec 9>&-
		return
	fi
	echo "bins.sh: building $name ($PKG in ${MOD#"$REPO"/})" >&2
	start=$(date +%s)
	# GOWORK=off: these modules are deliberately outside go.work. GOFLAGS is
	# cleared so a caller's settings cannot change what gets built.
	(cd "$MOD" && GOWORK=off GOFLAGS='' CGO_ENABLED=$CGO \
		nice -n 10 go build "${GO_BUILD_FLAGS[@]}" -tags "$TAGS" -ldflags "$LDFLAGS" -o "$BIN/.$name.tmp" "$PKG")
	mv -f "$BIN/.$name.tmp" "$BIN/$name" # atomic: a half-written binary is never used
	echo "$key" >"$STAMPS/$name"
	secs=$(($(date +%s) - start))
	echo "bins.sh: built $name in ${secs}s" >&2
	echo "$(date -u +%FT%TZ) $name ${secs}s $(go env GOVERSION)" >>"$OUT/build-times.log"
	exec 9>&-
}

main() {
	local -a names=()
	[[ $# -gt 0 ]] || set -- envtest
	for arg in "$@"; do
		case "$arg" in
		envtest) names+=("${ENVTEST[@]}") ;;
		cluster | all) names+=("${CLUSTER[@]}") ;;
		lint) names+=(golangci-lint) ;;
		chartlint) names+=(kube-score) ;;
		keda) names+=("${KEDA[@]}") ;;
		-h | --help)
			sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
			exit 0
			;;
		*) names+=("$arg") ;;
		esac
	done
	local -A seen=()
	for n in "${names[@]}"; do
		[[ -n ${seen[$n]:-} ]] && continue
		seen[$n]=1
		build "$n"
	done
	echo "$BIN" >&3
}

# Everything is in functions and this is the last line, so editing the file
# while a (long) build runs cannot change what the running shell executes.
main "$@"; exit
