#!/usr/bin/env bash
# Bring up a throwaway two-node Kubernetes cluster on this machine, without
# Docker: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# containerd, kubelet and kube-proxy as plain processes (node 1, the control
# plane's, on the host), a second node's containerd, kubelet and kube-proxy
# in a network namespace of their own (see NODE2_* in lib.sh), then CoreDNS
# and the local-path provisioner (StorageClass "standard", kind's default)
# as Deployments. Prints the admin kubeconfig's path on stdout.
#
#   hack/cluster/up.sh                 # then: export KUBECONFIG=$(...)
#   E2E_NODES=1 hack/cluster/up.sh     # node 1 only
#   hack/cluster/down.sh               # removes all of it
#
# Needs root (containerd, the kubelet, iptables), the binaries of
# `hack/k8s/bins.sh cluster` (K8S_BIN) and the image tars of
# hack/images/build.sh (IMAGES_DIR); every tar there is imported into the
# cluster's containerd. Debian packages it needs (containerd, runc, CNI
# plugins, iptables, ...) are installed if missing.
#
# The comments below say why each unusual setting is there: most work around
# a property of these VMs (cgroup v1, no systemd, no CAP_SYS_RESOURCE, no
# image registry, no upstream DNS).
set -euo pipefail
exec 3>&1 1>&2 # stdout: only the kubeconfig path
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START=$SECONDS
phase() { log "$* (+$((SECONDS - START))s)"; }

[[ $(id -u) == 0 ]] || die "must run as root"
[[ $E2E_NODES == 1 || $E2E_NODES == 2 ]] || die "E2E_NODES=$E2E_NODES: 1 or 2 nodes"
if pid_of kube-apiserver >/dev/null || pid_of etcd >/dev/null; then
	die "a cluster is already running from $CLUSTER_DIR; run hack/cluster/down.sh first"
fi
[[ ! -e $CLUSTER_DIR ]] || die "$CLUSTER_DIR exists (a previous cluster not torn down?); run hack/cluster/down.sh first"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
	[[ -x $K8S_BIN/$b ]] || die "$K8S_BIN/$b missing: run hack/k8s/bins.sh cluster"
done
for i in pause busybox coredns local-path-provisioner; do
	[[ -f $IMAGES_DIR/$i.tar ]] || die "$IMAGES_DIR/$i.tar missing: run hack/images/build.sh"
done
HOST_IP=$(host_ip)
[[ -n $HOST_IP ]] || die "no IPv4 default route: cannot pick the node's address"
for port in $ETCD_CLIENT_PORT $ETCD_PEER_PORT $API_PORT 10248 10249 10250 10256 10257 10259; do
	if ss -Htln "sport = :$port" | grep -q .; then
		die "port $port is in use (another cluster?)"
	fi
done
if ((E2E_NODES == 2)); then
	! ip link show "$NODE2_VETH" >/dev/null 2>&1 || die "interface $NODE2_VETH exists (another cluster?)"
	for net in "$NODE2_POD_CIDR" "$NODE_LINK_HOST_IP/$NODE_LINK_PREFIX"; do
		routes=$(ip -4 route show to match "$net" | grep -v '^default' || true)
		[[ -z $routes ]] || die "the host already routes $net ($routes): the second node's networks would clash"
	done
fi

# -------------------------------------------------------------- packages ---
# From Debian 12: containerd 1.6, runc, the CNI plugins (in /usr/lib/cni),
# iptables (nft backend) and conntrack for kube-proxy, socat for port-forward.
need_pkgs=()
for p in containerd runc containernetworking-plugins iptables conntrack socat; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
	log "installing Debian packages: ${need_pkgs[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi

mkdir -p "$CLUSTER_DIR" "$PKI" "$LOGS" "$PIDS"
# Who made it: make test-e2e tears down only a cluster of its own.
echo "${CLUSTER_OWNER:-make cluster-up}" >"$CLUSTER_DIR/owner"
# What down.sh must not remove: the hard-coded paths that existed before us.
for p in "${FIXED_PATHS[@]}"; do
	[[ -e $p ]] && echo "$p"
done >"$CLUSTER_DIR/preexisting-paths"
for s in "${SYSCTLS[@]}"; do
	echo "$s=$(sysctl -n "$s")"
done >"$CLUSTER_DIR/saved-sysctls"
echo "$HOST_IP" >"$CLUSTER_DIR/host-ip"
echo "$E2E_NODES" >"$CLUSTER_DIR/nodes"

# Pods reach each other and Services through the bridge; iptables must see
# bridged traffic for kube-proxy's Service rules to apply to it.
[[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null || die "no br_netfilter (net.bridge sysctls)"
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

# ------------------------------------------------------------------- PKI ---
# A throwaway CA and one certificate per identity. The CNs/Os are the users
# and groups Kubernetes' bootstrap RBAC already grants what each needs.
phase "certificates"
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=weather-e2e-ca" \
	-keyout "$PKI/ca.key" -out "$PKI/ca.crt"
# cert NAME SUBJECT [SAN]: a key and a CA-signed certificate for NAME.
cert() {
	local name=$1 subj=$2 san=${3:-}
	openssl_quiet req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$PKI/$name.key" -out "$PKI/$name.csr"
	local ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
	[[ -n $san ]] && ext+=$'\n'"subjectAltName=$san"
	openssl_quiet x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 7 -extfile <(echo "$ext") -out "$PKI/$name.crt"
	rm -f "$PKI/$name.csr"
}
cert apiserver "/CN=kube-apiserver" \
	"DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$HOST_IP"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=kubernetes-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kube-proxy "/CN=system:kube-proxy"
cert kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME"
cert kubelet-serving "/CN=$NODE_NAME" "DNS:$NODE_NAME,IP:$HOST_IP,IP:127.0.0.1"
if ((E2E_NODES == 2)); then
	# The Node authorizer lets a kubelet touch only its own node's objects.
	cert kubelet-client-2 "/O=system:nodes/CN=system:node:$NODE2_NAME"
	cert kubelet-serving-2 "/CN=$NODE2_NAME" "DNS:$NODE2_NAME,IP:$NODE2_IP,IP:127.0.0.1"
fi
# The aggregation layer's client (the controller-manager and scheduler read
# its CA from the cluster and log an error every minute without one).
cert front-proxy-client "/CN=front-proxy-client"
# Service account tokens are signed with this key pair.
openssl_quiet genrsa -out "$PKI/sa.key" 2048
openssl_quiet rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

# kubeconfig FILE CERT [SERVER]: a kubeconfig for identity CERT, at
# CLUSTER_DIR/FILE.kubeconfig. The second node reaches the API server on the
# host's address (127.0.0.1 is its own netns's).
kubeconfig() {
	cat >"$CLUSTER_DIR/$1.kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: $CLUSTER_NAME
		  cluster:
		    server: https://${3:-127.0.0.1}:$API_PORT
		    certificate-authority: $PKI/ca.crt
		users:
		- name: $2
		  user:
		    client-certificate: $PKI/$2.crt
		    client-key: $PKI/$2.key
		contexts:
		- name: $CLUSTER_NAME
		  context: {cluster: $CLUSTER_NAME, user: $2}
		current-context: $CLUSTER_NAME
	EOF
	chmod 0600 "$CLUSTER_DIR/$1.kubeconfig"
}
kubeconfig admin admin
kubeconfig controller-manager controller-manager
kubeconfig scheduler scheduler
kubeconfig kube-proxy kube-proxy
kubeconfig kubelet kubelet-client
if ((E2E_NODES == 2)); then
	mkdir -p "$NODE2_DIR"
	kubeconfig "$NODE2_NAME/kubelet" kubelet-client-2 "$HOST_IP"
	kubeconfig "$NODE2_NAME/kube-proxy" kube-proxy "$HOST_IP"
fi

curl_admin() { curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"; }

# ------------------------------------------------------------ control plane ---
phase "etcd"
start etcd "$K8S_BIN/etcd" --name "$NODE_NAME" --data-dir "$CLUSTER_DIR/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
	--log-level warn --unsafe-no-fsync # a throwaway cluster: durability buys nothing
wait_up 30 etcd curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

phase "kube-apiserver"
start kube-apiserver "$K8S_BIN/kube-apiserver" \
	--etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
	--advertise-address "$HOST_IP" --bind-address 0.0.0.0 --secure-port "$API_PORT" \
	--service-cluster-ip-range "$SERVICE_CIDR" \
	--client-ca-file "$PKI/ca.crt" \
	--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
	--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
	--kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types InternalIP,Hostname \
	--service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
	--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
	--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
	--requestheader-client-ca-file "$PKI/ca.crt" --requestheader-allowed-names front-proxy-client \
	--requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
	--requestheader-extra-headers-prefix X-Remote-Extra- \
	--proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
	--allow-privileged=true --profiling=false --v 1
# The controller-manager exits if it starts before the apiserver's RBAC
# bootstrap is done: wait for /readyz, which covers it.
wait_up 90 kube-apiserver curl_admin "https://127.0.0.1:$API_PORT/readyz"

phase "kube-controller-manager, kube-scheduler"
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
	--kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
	--authentication-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
	--authorization-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
	--bind-address 127.0.0.1 --leader-elect=false --cluster-name "$CLUSTER_NAME" \
	--service-cluster-ip-range "$SERVICE_CIDR" \
	--root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
	--use-service-account-credentials=true \
	--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
	--node-monitor-grace-period "$NODE_MONITOR_GRACE_PERIOD" --node-monitor-period 1s \
	--horizontal-pod-autoscaler-sync-period "$HPA_SYNC_PERIOD" \
	--profiling=false --v 1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
	--kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
	--authentication-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
	--authorization-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
	--bind-address 127.0.0.1 --leader-elect=false --profiling=false --v 1

# ------------------------------------------------------------------ nodes ---
# Each node's configuration is written by the functions below, for node 1
# (the host) and the second node (its own directory, socket, netns address).

# containerd_config DIR SOCKET CNI_DIR [NETNS_UNDER_STATE]: DIR/config.toml.
# CRI settings these VMs need:
#  - restrict_oom_score_adj: the VM withholds CAP_SYS_RESOURCE, so no process
#    may lower its oom_score_adj; without this every sandbox fails in runc
#    ("can't get final child's PID from pipe: EOF").
#  - sandbox_image: the locally built pause image; nothing can be pulled.
#  - disable_apparmor: no AppArmor in this kernel.
#  - SystemdCgroup = false: no systemd here; cgroupfs, as the kubelet.
#  - Every path under DIR so down.sh can remove it (runc's state too); the
#    second node's pod network namespaces too (netns_mounts_under_state_dir),
#    so that /run/netns holds node 1's only.
containerd_config() {
	local dir=$1 sock=$2 cni=$3 netns_under_state=${4:-false}
	mkdir -p "$dir"
	cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$IMG_PAUSE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = $netns_under_state
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$cni/net.d"
EOF
}

# cni_config CNI_DIR POD_CIDR: the node's network (CNI_DIR/net.d). One bridge for the
# node's pods, addresses from host-local, hairpin so a pod can reach itself
# through a Service; portmap for hostPort. (containerd sets up each pod's
# loopback itself.) No ipMasq: the bridge plugin would masquerade pod to pod
# traffic between the nodes too; MASQ_CHAIN masquerades only what leaves the
# cluster network.
cni_config() {
	local dir=$1 cidr=$2
	mkdir -p "$dir/net.d"
	cat >"$dir/net.d/10-weather-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "weather-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$dir/networks"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# kubelet_config FILE SOCKET ADDRESS NODE_DIR CGROUP_ROOT CERT: a kubelet's
# configuration; CERT is its serving certificate in PKI.
# How fast a stopped node is noticed: the kubelet renews its Lease every
# nodeLeaseDurationSeconds/4 (2 s), and kube-controller-manager marks a
# node NotReady NODE_MONITOR_GRACE_PERIOD after its last renewal; see there.
kubelet_config() {
	local file=$1 sock=$2 address=$3 dir=$4 cgroup_root=$5 cert=$6
	cat >"$file" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$sock
# No systemd; cgroup v1 is deprecated and refused from 1.35 unless allowed.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# The parent of this node's pod cgroups (kubepods beneath it).
cgroupRoot: $cgroup_root
# No CAP_SYS_RESOURCE: the kubelet may not lower its own oom_score_adj.
oomScoreAdj: 0
resolvConf: $CLUSTER_DIR/kubelet-resolv.conf
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: $CLUSTER_DOMAIN
podLogsDir: $dir/pod-logs
address: $address
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $PKI/$cert.crt
tlsPrivateKeyFile: $PKI/$cert.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
nodeLeaseDurationSeconds: $NODE_LEASE_SECONDS
nodeStatusUpdateFrequency: 4s
nodeStatusReportFrequency: 1m
# Images exist only locally: never garbage-collect them during a run.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
EOF
}

# kube_proxy_config FILE NODE KUBECONFIG: a kube-proxy's configuration (its
# metrics and health on its netns's loopback).
kube_proxy_config() {
	cat >"$1" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $3
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $2
# No CAP_SYS_RESOURCE (see the kubelet).
oomScoreAdj: 0
# Leave the host's conntrack sysctls and route_localnet as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
EOF
}

# masquerade: pods' traffic to outside the cluster network leaves with the
# host's address (as kind's kindnet does it); between pods, on one node or
# two, it is routed as it is. On the host only: the second node's pods
# leave through it.
masquerade() {
	iptables -t nat -N "$MASQ_CHAIN"
	iptables -t nat -A "$MASQ_CHAIN" -d "$CLUSTER_CIDR" -j RETURN
	iptables -t nat -A "$MASQ_CHAIN" -j MASQUERADE
	iptables -t nat -A POSTROUTING -s "$CLUSTER_CIDR" -m comment --comment "weather-e2e: pods leaving the cluster network" -j "$MASQ_CHAIN"
}

# An empty resolv.conf: pods with dnsPolicy Default (CoreDNS) get no
# upstream, and the host's resolvers (unreachable from pods) leak nowhere.
: >"$CLUSTER_DIR/kubelet-resolv.conf"

phase "node $NODE_NAME: containerd"
containerd_config "$CLUSTER_DIR/containerd" "$CONTAINERD_SOCK" "$CLUSTER_DIR/cni"
cni_config "$CLUSTER_DIR/cni" "$POD_CIDR"
masquerade
start containerd containerd --config "$CLUSTER_DIR/containerd/config.toml"
wait_up 30 containerd ctr version

if ((E2E_NODES == 2)); then
	phase "node $NODE2_NAME: network namespace, veth, routes, containerd"
	# The netns, held by a bind mount (no process needed to keep it).
	touch "$NODE2_NETNS"
	unshare --net="$NODE2_NETNS" true
	in_node2 ip link set lo up
	# The veth pair, made inside and its peer given to this (the host's) netns.
	in_node2 ip link add eth0 type veth peer name "$NODE2_VETH" netns $$
	ip addr add "$NODE_LINK_HOST_IP/$NODE_LINK_PREFIX" dev "$NODE2_VETH"
	in_node2 ip addr add "$NODE2_IP/$NODE_LINK_PREFIX" dev eth0
	# Its own sysctls: a new netns forwards nothing by default.
	in_node2 sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
	node2_link_up
	# The parent of its pods' cgroups, in every hierarchy (the kubelet
	# requires its cgroupRoot to exist); cpuset's needs its CPUs and memory
	# nodes before anything can join.
	for h in /sys/fs/cgroup/*/; do
		[[ -e $h/cgroup.procs ]] && mkdir -p "$h$NODE2_CGROUP"
	done
	cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$NODE2_CGROUP/cpuset.cpus"
	cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$NODE2_CGROUP/cpuset.mems"
	containerd_config "$NODE2_DIR/containerd" "$NODE2_CONTAINERD_SOCK" "$NODE2_DIR/cni" true
	cni_config "$NODE2_DIR/cni" "$NODE2_POD_CIDR"
	node2_containerd
fi

phase "import images"
"$CLUSTER_HACK/load.sh" >&2

phase "node $NODE_NAME: kubelet, kube-proxy"
mkdir -p "$KUBELET_ROOT"
kubelet_config "$CLUSTER_DIR/kubelet-config.yaml" "$CONTAINERD_SOCK" "$HOST_IP" "$CLUSTER_DIR" / kubelet-serving
start kubelet "$K8S_BIN/kubelet" --config "$CLUSTER_DIR/kubelet-config.yaml" \
	--kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" --root-dir "$KUBELET_ROOT" \
	--hostname-override "$NODE_NAME" --node-ip "$HOST_IP" --v 1
kube_proxy_config "$CLUSTER_DIR/kube-proxy-config.yaml" "$NODE_NAME" "$CLUSTER_DIR/kube-proxy.kubeconfig"
start kube-proxy "$K8S_BIN/kube-proxy" --config "$CLUSTER_DIR/kube-proxy-config.yaml" --v 1

wait_up 60 kubelet curl -sf http://127.0.0.1:10248/healthz
wait_up 60 kubelet kubectl get node "$NODE_NAME"
kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s >&2
wait_up 30 kube-proxy curl -sf http://127.0.0.1:10256/healthz
# As on kind: the control plane's node is labelled so; the cluster's own
# add-ons stay on it (below), so that stopping the second node never takes
# the cluster's DNS or storage with it. Untainted: any pod may run on it.
kubectl label node "$NODE_NAME" node-role.kubernetes.io/control-plane= >&2

if ((E2E_NODES == 2)); then
	phase "node $NODE2_NAME: kubelet, kube-proxy"
	mkdir -p "$NODE2_KUBELET_ROOT"
	kubelet_config "$NODE2_DIR/kubelet-config.yaml" "$NODE2_CONTAINERD_SOCK" "$NODE2_IP" "$NODE2_DIR" "/$NODE2_CGROUP" kubelet-serving-2
	kube_proxy_config "$NODE2_DIR/kube-proxy-config.yaml" "$NODE2_NAME" "$NODE2_DIR/kube-proxy.kubeconfig"
	node2_kubelet
	wait_up 60 "kubelet@$NODE2_NAME" kubectl get node "$NODE2_NAME"
	kubectl wait --for=condition=Ready "node/$NODE2_NAME" --timeout=60s >&2
fi

# ---------------------------------------------------------------- add-ons ---
phase "CoreDNS, local-path-provisioner"
# Pods need their namespace's default ServiceAccount, which the
# controller-manager creates shortly after it starts.
wait_up 60 kube-controller-manager kubectl -n kube-system get serviceaccount default
sed -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|g" -e "s|@CLUSTER_DOMAIN@|$CLUSTER_DOMAIN|g" \
	-e "s|@IMG_COREDNS@|$IMG_COREDNS|g" "$CLUSTER_HACK/addons/coredns.yaml" |
	kubectl apply -f - >&2
sed -e "s|@LOCAL_PATH_DIR@|$LOCAL_PATH_DIR|g" -e "s|@IMG_LOCAL_PATH@|$IMG_LOCAL_PATH|g" \
	-e "s|@NODE2_NAME@|$NODE2_NAME|g" -e "s|@NODE2_LOCAL_PATH_DIR@|$NODE2_LOCAL_PATH_DIR|g" \
	-e "s|@IMG_BUSYBOX@|$IMG_BUSYBOX|g" "$CLUSTER_HACK/addons/local-path-storage.yaml" |
	kubectl apply -f - >&2
kubectl -n kube-system rollout status deployment/coredns --timeout=120s >&2
kubectl -n local-path-storage rollout status deployment/local-path-provisioner --timeout=120s >&2
wait_up 60 kube-controller-manager kubectl -n default get serviceaccount default
# Service routing works end to end once the cluster DNS answers on its
# Service IP (kube-proxy has synced the CoreDNS endpoints) from the host.
wait_up 60 kube-proxy busybox nslookup "kubernetes.default.svc.$CLUSTER_DOMAIN" "$DNS_SERVICE_IP"
if ((E2E_NODES == 2)); then
	# And from the second node's netns, through its own kube-proxy's rules
	# and the route to node 1's pods.
	wait_up 60 "kube-proxy@$NODE2_NAME" in_node2 busybox nslookup "kubernetes.default.svc.$CLUSTER_DOMAIN" "$DNS_SERVICE_IP"
fi

phase "cluster ready: KUBECONFIG=$KUBECONFIG_ADMIN"
echo "$KUBECONFIG_ADMIN" >&3
