#!/usr/bin/env bash
# Stop the e2e cluster's second node hard, or start it again (the e2e's
# TestChartOnTwoNodes does both; by hand too).
#
#   hack/cluster/node.sh kill    its network cut, then its kubelet, kube-proxy,
#                                containerd, shims and every container process
#                                SIGKILLed: a machine losing power
#   hack/cluster/node.sh start   its network back, containerd, kubelet and
#                                kube-proxy started again on their state
#
# Prints one line, "<what> at <unix time with ms>", on stdout: when the node
# stopped (the network cut) or was back (its kubelet healthy).
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) == 0 ]] || die "must run as root"
[[ -e $NODE2_NETNS ]] || die "no second node ($NODE2_NETNS missing): hack/cluster/up.sh makes it (E2E_NODES=2)"
case ${1:-} in
kill)
	at=$(date +%s.%3N)
	node2_kill
	log "$NODE2_NAME stopped hard (network cut at $at)"
	echo "stopped at $at"
	;;
start)
	for c in "${NODE2_COMPONENTS[@]}"; do
		! pid_of "$c" >/dev/null || die "$c is running: the node is not stopped"
	done
	node2_start
	at=$(date +%s.%3N)
	log "$NODE2_NAME started again (kubelet healthy at $at)"
	echo "started at $at"
	;;
*) die "usage: $0 kill|start" ;;
esac
