#!/usr/bin/env bash
# Tear down the cluster of hack/cluster/up.sh, both nodes, and leave nothing
# behind: no processes (components, containerd shims, containers), no
# mounts, no iptables chains, no network bridge, veth or namespaces (the
# second node's and its pods'), no cgroups, no files.
# Safe to run at any point (after a failed up.sh, twice, with nothing up),
# and verifies the result: exits non-zero if something is left.
#
#   hack/cluster/down.sh
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) == 0 ]] || die "must run as root"
START=$SECONDS

# stop NAME: SIGTERM, then SIGKILL after a grace period.
stop() {
	local name=$1 pid start=$SECONDS
	pid=$(pid_of "$name") || return 0
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + ${2:-10}))
	while running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
	if running "$pid"; then
		log "$name (pid $pid) still running; SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while running "$pid"; do sleep 0.1; done
	fi
	log "stopped $name ($((SECONDS - start))s)"
}

# The cgroup dirs of pods: the kubelet's cgroupfs driver puts every pod
# under "kubepods" in each v1 hierarchy (and the named systemd one), the
# second node's under its own parent (node_cgroups, lib.sh).
# Every process of every pod container (and the pause processes).
# shellcheck disable=SC2046  # one directory a line, no spaces
pod_pids() { cgroup_pids $(node_cgroups); }
# Both nodes' containerd shims.
our_shim_pids() {
	shim_pids "$CONTAINERD_SOCK"
	shim_pids "$NODE2_CONTAINERD_SOCK"
}
# The second node's network namespace, by inode, while its bind mount is
# there: the check at the end makes sure nothing holds it any more.
node2_netns=$(stat -L -c %i "$NODE2_NETNS" 2>/dev/null || true)

# -------------------------------------------------------------- processes ---
# The node first, so nothing restarts the pods while they are killed; then
# the pods themselves and their shims, then containerd; the control plane
# last, apiserver before etcd (the apiserver hangs on SIGTERM once etcd is gone).
for c in "kube-proxy@$NODE2_NAME" "kubelet@$NODE2_NAME" kube-proxy kubelet; do stop "$c"; done
for _ in 1 2 3 4 5; do
	pids=$(pod_pids)
	[[ -z $pids ]] && break
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 0.5
done
[[ -z $(pod_pids) ]] || log "warning: pod processes survive: $(pod_pids | tr '\n' ' ')"
pids=$(our_shim_pids)
if [[ -n $pids ]]; then
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	log "killed containerd shims: ${pids//$'\n'/ }"
fi
stop "containerd@$NODE2_NAME"
stop containerd
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver 15
stop etcd

# -------------------------------------------------------------- networking ---
# Service rules: kube-proxy's own cleanup first (iptables, ipvs, nftables).
if [[ -x $K8S_BIN/kube-proxy ]]; then
	"$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi
# Then whatever chains remain that were ours: KUBE-* (the kubelet's own
# canaries/firewall too) and CNI-* (the bridge plugin's masquerade chains of
# pods that never got a CNI DEL, since their sandboxes were killed).
clean_chains() {
	local ipt=$1 table chain
	command -v "$ipt" >/dev/null || return 0
	for table in filter nat mangle raw; do
		"$ipt" -t "$table" -S >/dev/null 2>&1 || continue
		# Rules elsewhere that jump to our chains (in builtin chains and others).
		local rules
		rules=$("$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A .* -j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-' || true)
		while read -r rule; do
			[[ -n $rule ]] || continue
			# iptables -S quotes comments; eval splits the rule as the shell would.
			eval "$ipt -t $table ${rule/#-A/-D}" 2>/dev/null || true
		done <<<"$rules"
		for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ { print $2 }'); do
			"$ipt" -t "$table" -F "$chain" 2>/dev/null || true
		done
		for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ { print $2 }'); do
			"$ipt" -t "$table" -X "$chain" 2>/dev/null || true
		done
	done
}
clean_chains iptables
clean_chains ip6tables
# The legacy (x_tables) backend only if its tables exist: merely listing
# them would create them.
[[ -n $(cat /proc/net/ip_tables_names 2>/dev/null) ]] && clean_chains iptables-legacy
[[ -n $(cat /proc/net/ip6_tables_names 2>/dev/null) ]] && clean_chains ip6tables-legacy
# Pod network namespaces: unmounting the last reference destroys a netns, and
# with it the host end of its veth pair.
for ns in /run/netns/cni-*; do
	[[ -e $ns ]] || continue
	umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null || true
	rm -f "$ns"
done
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
	ip link delete "$CNI_BRIDGE"
	log "deleted bridge $CNI_BRIDGE"
fi
# The second node's veth pair (both ends, and the route through it); its
# netns, with its bridge, pod veths and iptables, goes when its bind mount is
# unmounted below and no process is left in it.
if ip link show "$NODE2_VETH" >/dev/null 2>&1; then
	ip link delete "$NODE2_VETH"
	log "deleted veth $NODE2_VETH"
fi
# Conntrack entries of pod and Service flows would outlive the rules.
if command -v conntrack >/dev/null; then
	for f in "-s $CLUSTER_CIDR" "-d $CLUSTER_CIDR" "-d $SERVICE_CIDR"; do
		# shellcheck disable=SC2086  # option and value
		conntrack -D $f >/dev/null 2>&1 || true
	done
fi

# ------------------------------------------------------------------- mounts ---
# Deepest first: the kubelet's volume tmpfs and bind mounts, containerd's
# rootfs overlays and sandbox /dev/shm, the kubelet root's own rshared
# bind mount. Lazy unmount as a last resort for a busy one.
mounts_under() {
	local p
	for p in "$@"; do
		awk -v p="$p" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo
	done | sort -ru
}
UNDER=("$CLUSTER_DIR")
for p in "${FIXED_PATHS[@]}"; do [[ $p == /run/netns ]] || UNDER+=("$p"); done
for _ in 1 2 3 4 5; do
	mounts=$(mounts_under "${UNDER[@]}")
	[[ -z $mounts ]] && break
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done <<<"$mounts"
done

# ------------------------------------------------------------------ cgroups ---
for cg in $(node_cgroups); do
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
done

# ------------------------------------------------------- sysctls and files ---
if [[ -f $CLUSTER_DIR/saved-sysctls ]]; then
	while IFS= read -r kv; do sysctl -qw "$kv" || true; done <"$CLUSTER_DIR/saved-sysctls"
fi
preexisting=$(cat "$CLUSTER_DIR/preexisting-paths" 2>/dev/null || true)
for p in "${FIXED_PATHS[@]}"; do
	[[ -e $p ]] || continue
	if grep -qxF "$p" <<<"$preexisting"; then continue; fi
	# Only if nothing is still mounted there (else rm would cross into it).
	[[ -z $(mounts_under "$p") ]] && rm -rf "$p"
done
if [[ -e $CLUSTER_DIR ]]; then
	if [[ -z $(mounts_under "$CLUSTER_DIR") ]]; then
		rm -rf "$CLUSTER_DIR"
	else
		log "warning: mounts remain under $CLUSTER_DIR; not removing it"
	fi
fi

# ------------------------------------------------------------------- check ---
left=()
# Every component was started with CLUSTER_DIR in its arguments; other
# clusters on the machine (e.g. an envtest's etcd) are not ours to judge.
ours=$(pgrep -f -- "$CLUSTER_DIR" | grep -vx "$$" || true)
[[ -z $ours ]] || left+=("processes ${ours//$'\n'/ }")
[[ -z $(our_shim_pids) ]] || left+=("containerd shims")
[[ -z $(node_cgroups) ]] || left+=("cgroups: $(node_cgroups | tr '\n' ' ')")
[[ -z $(mounts_under "$CLUSTER_DIR" "${UNDER[@]}") ]] || left+=("mounts")
ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && left+=("bridge $CNI_BRIDGE")
ip link show "$NODE2_VETH" >/dev/null 2>&1 && left+=("veth $NODE2_VETH")
routes=$(ip -4 route show to match "$NODE2_POD_CIDR" | grep -v '^default' || true)
[[ -z $routes ]] || left+=("routes: $routes")
# The second node's netns is gone once no process is in it (nor any mount
# of it: checked with the mounts).
if [[ -n $node2_netns ]]; then
	# (find fails on processes that exit while it looks: not ours to judge.)
	in_netns=$({ find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\[$node2_netns\]" 2>/dev/null || true; } | cut -d/ -f3 | tr '\n' ' ')
	[[ -z $in_netns ]] || left+=("processes in $NODE2_NAME's network namespace: $in_netns")
fi
compgen -G '/run/netns/cni-*' >/dev/null && left+=("netns $(echo /run/netns/cni-*)")
for ipt in iptables ip6tables; do
	"$ipt" -S -t nat 2>/dev/null | grep -qE '^-N (KUBE|CNI)-' && left+=("$ipt nat chains")
	"$ipt" -S 2>/dev/null | grep -qE '^-N (KUBE|CNI)-' && left+=("$ipt filter chains")
done
[[ -e $CLUSTER_DIR ]] && left+=("$CLUSTER_DIR")
if ((${#left[@]})); then
	log "teardown incomplete ($((SECONDS - START))s); left behind: ${left[*]}"
	exit 1
fi
log "cluster removed, nothing left behind ($((SECONDS - START))s)"
