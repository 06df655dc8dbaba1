# Shared settings and helpers of hack/cluster/*.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts

CLUSTER_HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CLUSTER_HACK/../.." && pwd)
# shellcheck source=hack/images/images.sh
source "$REPO/hack/images/images.sh"

K8S_VERSION=v1.34.4
# The binaries hack/k8s/bins.sh builds (and caches).
K8S_BIN=${K8S_BIN:-$REPO/.cache/k8s/$K8S_VERSION/bin}
# The image tars hack/images/build.sh writes.
IMAGES_DIR=${IMAGES_DIR:-$REPO/.cache/images}

# Everything the cluster writes lives under this one directory (outside the
# repo: it holds root-owned files, mounts and sockets), so down.sh can remove
# it whole. The few paths Kubernetes and containerd hard-code are in FIXED_PATHS.
CLUSTER_DIR=${CLUSTER_DIR:-/var/tmp/weather-cluster}
PKI=$CLUSTER_DIR/pki
LOGS=$CLUSTER_DIR/logs
PIDS=$CLUSTER_DIR/pids
KUBECONFIG_ADMIN=$CLUSTER_DIR/admin.kubeconfig
CONTAINERD_SOCK=$CLUSTER_DIR/containerd/containerd.sock
KUBELET_ROOT=$CLUSTER_DIR/kubelet
LOCAL_PATH_DIR=$CLUSTER_DIR/local-path

# Paths outside CLUSTER_DIR that the components create whatever they are
# told: the kubelet's device-plugin dir and /var/log/containers symlinks, the
# CNI result cache, containerd's shim sockets (/run/containerd/s) and the
# pod network namespaces. up.sh records which already existed; down.sh
# removes the others.
FIXED_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd /run/netns)

NODE_NAME=weather-e2e
CLUSTER_NAME=weather-e2e
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
POD_CIDR=10.244.0.0/24     # this node's pods (the CNI bridge's host-local range)
CLUSTER_CIDR=10.244.0.0/16 # all pods, for kube-proxy's masquerade rules
CNI_BRIDGE=cni0
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
API_PORT=6443

# The order components start in; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

# Host sysctls the cluster needs; up.sh saves their old values and down.sh
# puts them back.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

log() { echo "cluster: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# The host's address on its default route: the apiserver advertises it (the
# "kubernetes" Service's endpoint, which pods reach) and the node reports it.
host_ip() {
	ip -4 route get 1.1.1.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit } }'
}

kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr() { command ctr -a "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# running PID: the process exists and is not a zombie (our components are
# orphans once up.sh exits, and this VM's init reaps orphans only lazily).
running() {
	local state
	state=$(awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# pid_of NAME: the recorded pid of a component, if that process still runs it.
pid_of() {
	local pid
	pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
	[[ -n $pid ]] && running "$pid" || return 1
	# A recycled pid would run something else: check the command.
	[[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$1"* ]] || return 1
	echo "$pid"
}

# wait_for SECONDS WHAT CMD...: retry CMD every 0.5 s until it succeeds.
wait_for() {
	local timeout=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out after ${timeout}s waiting for $what"
			return 1
		fi
		sleep 0.5
	done
}
