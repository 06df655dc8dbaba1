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
# Pods leaving the cluster network are masqueraded by this chain of ours (a
# CNI- name: down.sh removes such chains), pod to pod traffic never is.
MASQ_CHAIN=CNI-WEATHER-E2E-MASQ

# How many nodes up.sh makes: 2 (the default, and CI's) or 1.
E2E_NODES=${E2E_NODES:-2}
# The second node: the host's own processes in a network namespace of its
# own (a bind mount under its directory, so no /run/netns), joined to the
# host by a veth pair; its own containerd (root, state, socket), kubelet
# (root dir, pod cgroup parent) and kube-proxy (its netns's iptables), its
# own CNI bridge (cni0 in its netns) and pod CIDR, its own local-path
# directory. It shares the host's mount and PID namespaces and filesystem:
# kubelet mounts are visible to its containerd, and the tests read its
# volumes' directories as node 1's.
NODE2_NAME=weather-e2e-2
NODE2_DIR=$CLUSTER_DIR/$NODE2_NAME
NODE2_NETNS=$NODE2_DIR/netns
NODE2_CONTAINERD_SOCK=$NODE2_DIR/containerd/containerd.sock
NODE2_KUBELET_ROOT=$NODE2_DIR/kubelet
NODE2_LOCAL_PATH_DIR=$NODE2_DIR/local-path
NODE2_POD_CIDR=10.244.1.0/24
# Its pods' cgroups are under this parent (the kubelet's cgroupRoot) in
# every hierarchy, beside node 1's /kubepods: the two kubelets never manage
# the same cgroups.
NODE2_CGROUP=weather-e2e-2
# The veth pair: the host's end (with NODE_LINK_HOST_IP) and the node's
# (eth0 in its netns, NODE2_IP, its InternalIP). Routes: on the host,
# NODE2_POD_CIDR via NODE2_IP; in the netns, the default via the host.
NODE2_VETH=weather-n2
NODE_LINK_HOST_IP=10.243.0.1
NODE2_IP=10.243.0.2
NODE_LINK_PREFIX=30
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
API_PORT=6443

# How soon a node that stops is NotReady: its kubelet renews its Lease every
# NODE_LEASE_SECONDS/4 (2 s), and kube-controller-manager marks the node
# NotReady once no renewal came for NODE_MONITOR_GRACE_PERIOD (looking every
# second). Kubernetes' defaults are 40 s (a renewal every 10 s) and 50 s
# (looking every 5 s): a stopped node is NotReady ~50-55 s later. 12 s here
# keeps the e2e's failover inside a minute (then the partition controller's
# NODE_LOST_AFTER, 30 s); the cost is that a kubelet silent for 12 s (six
# renewals missed: a stall, a lost connection) makes its node NotReady. On
# this idle, local cluster that does not happen; on a real one it would.
NODE_LEASE_SECONDS=8
NODE_MONITOR_GRACE_PERIOD=12s

# How often kube-controller-manager's HPA controller reads the metrics and
# sets replicas (KEDA's ScaledObjects are HPAs on its external metrics API):
# Kubernetes' default is 15 s; 5 s keeps the e2e's scaling on lag (each
# step of it a sync) within a few minutes. The cost, on a real cluster,
# would be three times the metric reads.
HPA_SYNC_PERIOD=5s

# The order components start in; down.sh stops them in reverse. The second
# node's are named <component>@<node> (their pid files and logs).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)
NODE2_COMPONENTS=("containerd@$NODE2_NAME" "kubelet@$NODE2_NAME" "kube-proxy@$NODE2_NAME")

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

# pid_of NAME: the recorded pid of a component (NAME or NAME@NODE), if that
# process still runs it.
pid_of() {
	local pid
	pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
	[[ -n $pid ]] && running "$pid" || return 1
	# A recycled pid would run something else: check the command.
	[[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"${1%@*}"* ]] || return 1
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

# start NAME CMD...: run a component in its own session (so a Ctrl-C in the
# caller's terminal does not reach it), log to logs/NAME.log, record its pid.
# Without job control bash does not make the child a group leader, so setsid
# execs in place and $! is the component's own pid (nsenter, for the second
# node, execs in place too).
# All fds are redirected (3, up.sh's stdout, is closed): a daemon holding the
# caller's pipe open would make $(hack/cluster/up.sh) wait for it forever.
start() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 3>&- &
	echo $! >"$PIDS/$name.pid"
}
# check_alive NAME: fail with the end of its log if NAME has exited.
check_alive() {
	pid_of "$1" >/dev/null && return
	tail -n 30 "$LOGS/$1.log" >&2
	die "$1 exited during startup (log: $LOGS/$1.log)"
}
# wait_up SECONDS NAME CMD...: wait for CMD, failing early if NAME died.
wait_up() {
	local timeout=$1 name=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		check_alive "$name"
		((SECONDS < deadline)) || die "$name not ready after ${timeout}s (log: $LOGS/$name.log)"
		sleep 0.5
	done
}

# ------------------------------------------------------------ second node ---

# in_node2 CMD...: CMD in the second node's network namespace only (the
# host's mounts, PIDs and cgroups: not `ip netns exec`, whose mount
# namespace would hide the kubelet's volume mounts from containerd).
in_node2() { nsenter --net="$NODE2_NETNS" "$@"; }
ctr2() { command ctr -a "$NODE2_CONTAINERD_SOCK" -n k8s.io "$@"; }

# node2_link_up: the veth pair up and the routes between the nodes' pod
# networks (again after node2_kill cut it: an interface set down loses its
# routes).
node2_link_up() {
	ip link set "$NODE2_VETH" up
	in_node2 ip link set eth0 up
	ip route replace "$NODE2_POD_CIDR" via "$NODE2_IP" dev "$NODE2_VETH"
	in_node2 ip route replace default via "$NODE_LINK_HOST_IP" dev eth0
}

# node2_containerd: the second node's containerd, in its netns (so the CNI
# plugins it runs make the pods' veths and bridge there).
node2_containerd() {
	start "containerd@$NODE2_NAME" nsenter --net="$NODE2_NETNS" containerd --config "$NODE2_DIR/containerd/config.toml"
	wait_up 30 "containerd@$NODE2_NAME" ctr2 version
}

# node2_kubelet: the second node's kubelet and kube-proxy, in its netns,
# healthy (their health ports are on the netns's loopback).
node2_kubelet() {
	start "kubelet@$NODE2_NAME" nsenter --net="$NODE2_NETNS" "$K8S_BIN/kubelet" \
		--config "$NODE2_DIR/kubelet-config.yaml" --kubeconfig "$NODE2_DIR/kubelet.kubeconfig" \
		--root-dir "$NODE2_KUBELET_ROOT" --hostname-override "$NODE2_NAME" --node-ip "$NODE2_IP" --v 1
	start "kube-proxy@$NODE2_NAME" nsenter --net="$NODE2_NETNS" "$K8S_BIN/kube-proxy" \
		--config "$NODE2_DIR/kube-proxy-config.yaml" --v 1
	wait_up 60 "kubelet@$NODE2_NAME" in_node2 curl -sf http://127.0.0.1:10248/healthz
	wait_up 30 "kube-proxy@$NODE2_NAME" in_node2 curl -sf http://127.0.0.1:10256/healthz
}

# node_cgroups: the cgroup directories of every node's pods, in every
# hierarchy: node 1's kubepods, and the second node's parent.
node_cgroups() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d \( -name kubepods -o -name "$NODE2_CGROUP" \) 2>/dev/null
}

# cgroup_pids DIR...: every process in those cgroup trees.
cgroup_pids() {
	local cg
	for cg in "$@"; do
		find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

# shim_pids SOCKET: containerd's shims re-parent to init, so stopping
# containerd leaves them; a containerd's are the ones given its socket.
shim_pids() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == *containerd-shim*"$1"* ]] && echo "${p#/proc/}"
	done
	return 0
}

# kill_until_gone WHAT CMD...: SIGKILL the pids CMD prints until it prints
# none (a dying pod's init may still fork); fails after 10 s.
kill_until_gone() {
	local what=$1 pids deadline=$((SECONDS + 10))
	shift
	while pids=$("$@") && [[ -n $pids ]]; do
		((SECONDS < deadline)) || {
			log "warning: $what survive SIGKILL: ${pids//$'\n'/ }"
			return 1
		}
		# shellcheck disable=SC2086  # a list of pids
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
}

# node2_kill: the second node stopped hard, as a machine that loses power:
# its network cut first (nothing it sends gets out any more, and the API
# server's connections to its kubelet time out rather than being refused),
# then its kubelet, kube-proxy, containerd, the shims and every container
# process SIGKILLed. Its state on disk stays for node2_start.
node2_kill() {
	ip link set "$NODE2_VETH" down
	local c pid
	for c in "${NODE2_COMPONENTS[@]}"; do
		pid=$(pid_of "$c") && kill -KILL "$pid"
	done
	kill_until_gone "the second node's shims" shim_pids "$NODE2_CONTAINERD_SOCK"
	local cgs
	mapfile -t cgs < <(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$NODE2_CGROUP")
	kill_until_gone "the second node's container processes" cgroup_pids "${cgs[@]}"
	for c in "${NODE2_COMPONENTS[@]}"; do
		pid=$(cat "$PIDS/$c.pid" 2>/dev/null) || continue
		while running "$pid"; do sleep 0.1; done
	done
}

# node2_start: the second node back after node2_kill: its network, then
# containerd, the kubelet and kube-proxy, as up.sh started them.
node2_start() {
	node2_link_up
	node2_containerd
	node2_kubelet
}

# node_sockets: the containerd socket of every node up.sh made.
node_sockets() {
	echo "$CONTAINERD_SOCK"
	if [[ -S $NODE2_CONTAINERD_SOCK ]]; then echo "$NODE2_CONTAINERD_SOCK"; fi
}

# images_on_all_nodes: the images that every node's containerd has (a pod
# may be scheduled on either).
images_on_all_nodes() {
	local socks sock
	mapfile -t socks < <(node_sockets)
	for sock in "${socks[@]}"; do
		command ctr -a "$sock" -n k8s.io images ls -q | sort -u
	done | sort | uniq -c | awk -v n="${#socks[@]}" '$1 == n { print $2 }'
}
