package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChartOnTwoNodes installs the chart on the two-node e2e cluster
// (hack/cluster/up.sh: the second node's kubelet, containerd and kube-proxy
// in a network namespace of their own) and proves, with kubectl, the
// node-control script hack/cluster/node.sh and an independent recount:
//   - the consumers spread over both nodes (the chart's default topology
//     spread), each on a volume of its own on its node (a local-path PV
//     bound to that node); the dashboard and the debug consumer wherever
//     the scheduler puts them;
//   - `kubectl drain` of the second node mid-stream evicts its consumer
//     through the PodDisruptionBudget (which then refuses to evict the
//     other); the evicted pod cannot come back anywhere (its volume is on
//     the cordoned node), so after NODE_LOST_AFTER the partition controller
//     gives its partitions to the live pod, which continues each moved one
//     from its snapshot, none from offset 0; uncordoned, the pod returns
//     to its node and the even assignment returns the same way;
//   - the second node stopped hard mid-stream (node.sh kill: its network
//     cut, its kubelet, runtime and every container process SIGKILLed):
//     the node turns NotReady, the controller fails its consumer's
//     partitions over to the live pod, and every partition's lag falls
//     again; the test measures each of those times from the stop, read
//     from the node's condition, the StatefulSet and the monitoring
//     group's committed offsets, and holds the last to failoverBound;
//   - the node back (node.sh start): the assignment returns to even, the
//     partitions moved back continue from their snapshots;
//   - after every step the stats (the files on every volume, the
//     snapshots) and the dashboard, read through the API server's service
//     proxy, equal the recount of the topic, which is the producer's stream
//     without gap or duplicate: nothing counted twice;
//   - then the release is uninstalled and its namespace deleted.
//
// Kafka is pinned to the first node: the single broker's budget
// (minAvailable 1) makes a drain of its node wait for a person by design,
// and its local volume could not follow it anyway; the broker's own move is
// TestChart's. The test wants the second node to itself, so it runs before
// the other tests (this file sorts before e2e_test.go): their releases'
// pods there, a single broker above all, could hold the drain for good.
// With one node (E2E_NODES=1) it is skipped.
//
// Its namespace: E2E_NODES_NAMESPACE (default weather-nodes); the node
// script: E2E_NODE_CTL (hack/cluster/e2e.sh sets it); the rest as
// TestChart's.
func TestChartOnTwoNodes(t *testing.T) {
	s := newSuite(t, env("E2E_NODES_NAMESPACE", "weather-nodes"))
	n := &twoNodes{s: s, ctl: env("E2E_NODE_CTL", "../node.sh")}
	if err := n.findNodes(); err != nil {
		t.Fatal(err)
	}
	if n.second == "" {
		t.Skipf("one node (%s): the two-node test needs hack/cluster/up.sh's second node (E2E_NODES=2, the default)", n.first)
	}
	t.Cleanup(n.restoreNode)
	s.phase("helm install, the broker on the first node (all workloads ready: --wait)", n.install)
	s.phase("the consumers spread over both nodes, each on a volume of its own on its node", n.spread)
	s.phase("stats = recount of the topic (two nodes)", func() error { return s.checkStats("two nodes") })
	s.phase("kubectl drain of the second node mid-stream: its consumer evicted through the budget, its partitions to the live pod (from their snapshots)", n.drain)
	s.phase("uncordoned: the consumer back on its node, the even assignment back", n.uncordon)
	s.phase("the second node stopped hard mid-stream: NotReady, failover, every partition's lag falls again", n.hardStop)
	s.phase("the second node back: the even assignment back, nothing counted twice", n.nodeBack)
	s.phase("helm uninstall and the namespace deleted", n.remove)
	n.report()
}

// failoverBound is how long after the second node's hard stop every
// partition's lag must be falling again: on this cluster NotReady comes
// after node-monitor-grace-period 12 s (hack/cluster/lib.sh), then the
// controller's NODE_LOST_AFTER (30 s), a restart of the live pod and a
// restore from the snapshots.
const failoverBound = 60 * time.Second

type twoNodes struct {
	s      *suite
	ctl    string // hack/cluster/node.sh
	first  string // the control plane's node
	second string // the other, which is drained and stopped

	cordoned, stopped bool // what restoreNode undoes if the test stops half-way
	figures           []string
}

// findNodes learns the cluster's nodes: the control plane's (labelled by
// up.sh) and at most one other.
func (n *twoNodes) findNodes() error {
	out, err := n.s.kubectl("get", "nodes", "-o", "json")
	if err != nil {
		return err
	}
	var nodes struct {
		Items []struct {
			Metadata struct {
				Name   string
				Labels map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		return err
	}
	var others []string
	for _, node := range nodes.Items {
		if _, ok := node.Metadata.Labels["node-role.kubernetes.io/control-plane"]; ok {
			n.first = node.Metadata.Name
		} else {
			others = append(others, node.Metadata.Name)
		}
	}
	switch {
	case n.first == "":
		return fmt.Errorf("no node labelled node-role.kubernetes.io/control-plane among %d", len(nodes.Items))
	case len(others) > 1:
		return fmt.Errorf("nodes %v besides %s: the test knows one second node", others, n.first)
	case len(others) == 1:
		n.second = others[0]
	}
	return nil
}

// restoreNode brings the second node back into service if the test stopped
// between taking it out and putting it back: the tests after this one need
// both nodes.
func (n *twoNodes) restoreNode() {
	if n.stopped {
		if _, err := n.node("start"); err != nil {
			n.s.t.Errorf("starting the second node again: %v", err)
		}
	}
	if n.cordoned {
		if _, err := n.s.kubectl("uncordon", n.second); err != nil {
			n.s.t.Errorf("uncordon: %v", err)
		}
	}
}

// node runs hack/cluster/node.sh kill|start and returns the time it printed
// (the network cut, or the kubelet healthy again).
func (n *twoNodes) node(what string) (time.Time, error) {
	n.s.t.Logf("$ %s %s", n.ctl, what)
	out, err := exec.CommandContext(n.s.ctx, n.ctl, what).Output()
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return time.Time{}, fmt.Errorf("%s %s: %w", n.ctl, what, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return time.Time{}, fmt.Errorf("%s %s printed nothing", n.ctl, what)
	}
	sec, err := strconv.ParseFloat(f[len(f)-1], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s: %q: %w", n.ctl, what, out, err)
	}
	return time.UnixMilli(int64(sec * 1000)), nil
}

func (n *twoNodes) install() error {
	s := n.s
	if err := s.freshNamespace(); err != nil {
		return err
	}
	if err := s.helmInstall(`kafka.nodeSelector.kubernetes\.io/hostname=` + n.first); err != nil {
		return err
	}
	if err := s.learn(); err != nil {
		return err
	}
	return s.filesGrow()
}

// podNode is one pod of the release and where it runs.
type podNode struct {
	name, node, component string
	ready                 bool
}

// placement lists the release's pods and their nodes, and logs it with
// each consumer's partitions.
func (n *twoNodes) placement(when string) ([]podNode, error) {
	s := n.s
	out, err := s.kubectl("get", "pods", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name   string
				Labels map[string]string
			}
			Spec   struct{ NodeName string }
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	assignment, err := s.assignment()
	if err != nil {
		return nil, err
	}
	var pods []podNode
	var rows []string
	for _, item := range list.Items {
		p := podNode{name: item.Metadata.Name, node: item.Spec.NodeName, component: item.Metadata.Labels["app.kubernetes.io/component"]}
		if p.component == "test" {
			continue
		}
		for _, c := range item.Status.Conditions {
			p.ready = p.ready || c.Type == "Ready" && c.Status == "True"
		}
		pods = append(pods, p)
		row := fmt.Sprintf("%s on %s", p.name, cmp.Or(p.node, "no node"))
		if p.component == "consumer" {
			row += fmt.Sprintf(" (partitions %v)", partitionsOf(assignment, p.name))
		}
		if !p.ready {
			row += " not ready"
		}
		rows = append(rows, row)
	}
	slices.Sort(rows)
	s.t.Logf("%s: pods: %s; partitions by ordinal %q", when, strings.Join(rows, "; "), assignment)
	return pods, nil
}

// partitionsOf is the partitions of the consumer pod's ordinal in
// PARTITIONS_BY_ORDINAL.
func partitionsOf(assignment, pod string) []int32 {
	ordinal, err := strconv.Atoi(pod[strings.LastIndexByte(pod, '-')+1:])
	if err != nil {
		return nil
	}
	var mine []int32
	for p, o := range owners(assignment) {
		if o == ordinal {
			mine = append(mine, p)
		}
	}
	slices.Sort(mine)
	return mine
}

// consumersOn returns the consumer pods on node and the others.
func consumersOn(pods []podNode, node string) (on, off []podNode) {
	for _, p := range pods {
		if p.component != "consumer" {
			continue
		}
		if p.node == node {
			on = append(on, p)
		} else {
			off = append(off, p)
		}
	}
	return on, off
}

// spread: one consumer pod on each node, each with a claim of its own
// whose PV is bound to that node (node affinity) and whose directory is
// that node's local-path directory.
func (n *twoNodes) spread() error {
	s := n.s
	pods, err := n.placement("installed")
	if err != nil {
		return err
	}
	on1, _ := consumersOn(pods, n.first)
	on2, _ := consumersOn(pods, n.second)
	if s.replicas != 2 || len(on1) != 1 || len(on2) != 1 {
		return fmt.Errorf("%d consumer replicas: %d on %s, %d on %s; want the chart's 2, one per node (topology spread)", s.replicas, len(on1), n.first, len(on2), n.second)
	}
	claims, err := s.consumerClaims()
	if err != nil {
		return err
	}
	for _, p := range append(on1, on2...) {
		claim := "stats-" + p.name
		pv, err := s.kubectl("get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
		if err != nil {
			return err
		}
		bound, err := s.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[*].matchExpressions[*].values[*]}")
		if err != nil {
			return err
		}
		if bound != p.node {
			return fmt.Errorf("pod %s runs on %s, its claim %s's PV %s is bound to node %q", p.name, p.node, claim, pv, bound)
		}
		s.t.Logf("%s on %s: claim %s, PV %s bound to %s, directory %s", p.name, p.node, claim, pv, bound, claims[claim])
	}
	if filepath.Dir(claims["stats-"+on1[0].name]) == filepath.Dir(claims["stats-"+on2[0].name]) {
		return fmt.Errorf("both nodes' volumes are in %s: want each node's local-path directory", filepath.Dir(claims["stats-"+on1[0].name]))
	}
	return nil
}

// failoverAssignment is what rebalance.Failover makes of the even
// assignment when every ordinal but live is lost: every partition on live.
func failoverAssignment(live, partitions int) string {
	all := make([]string, partitions)
	for p := range partitions {
		all[p] = strconv.Itoa(p)
	}
	return strings.Repeat(";", live) + strings.Join(all, ",")
}

// evict asks the Eviction API (what kubectl drain uses) to evict pod.
func (n *twoNodes) evict(pod string) error {
	body := fmt.Sprintf(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":%q,"namespace":%q}}`, pod, n.s.k.Namespace)
	f := filepath.Join(n.s.t.TempDir(), "eviction.json")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		return err
	}
	_, err := n.s.kubectl("create", "--raw", "/api/v1/namespaces/"+n.s.k.Namespace+"/pods/"+pod+"/eviction", "-f", f)
	return err
}

// ordinal is a StatefulSet pod's ordinal.
func ordinal(pod string) int {
	o, _ := strconv.Atoi(pod[strings.LastIndexByte(pod, '-')+1:])
	return o
}

// movedTo checks, once pod (live through a failover) runs assignment
// after before, that every partition it took over continued there from its
// snapshot at or past at[p] (what names those offsets), and that it started
// none from offset 0.
func (n *twoNodes) movedTo(when, pod, before, after string, at map[int32]int64, what string) error {
	s := n.s
	was := owners(before)
	mine := partitionsOf(after, pod)
	got, err := s.starts(pod, mine)
	if err != nil {
		return err
	}
	var moved []string
	for _, p := range mine {
		st := got[p]
		switch prev := was[p]; {
		case st.from == "log start":
			return fmt.Errorf("%s: %s counted partition %d again from offset 0", when, pod, p)
		case prev == ordinal(pod):
			// Its own: from its checkpoint (or its snapshot, if newer).
		case st.from != "snapshot":
			return fmt.Errorf("%s: partition %d moved from ordinal %d to %s, which continued from its %s at %d, not from its snapshot", when, p, prev, pod, st.from, st.offset)
		case st.offset < at[p] || st.offset == 0:
			return fmt.Errorf("%s: partition %d moved to %s, restored from its snapshot at offset %d, before %s %d", when, p, pod, st.offset, what, at[p])
		default:
			moved = append(moved, fmt.Sprintf("partition %d: ordinal %d -> %s, restored from its snapshot at offset %d (%s: %d)", p, prev, pod, st.offset, what, at[p]))
		}
	}
	if len(moved) == 0 {
		return fmt.Errorf("%s: %s took no partition over (%q -> %q)", when, pod, before, after)
	}
	s.t.Logf("%s: moved partitions: %s", when, strings.Join(moved, "; "))
	return nil
}

// consumeOn waits until the files pass the topic's end as it is now, and
// checks that every partition's lag is served by exactly one ready pod.
func (n *twoNodes) consumeOn(when string) error {
	s := n.s
	_, end, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return err
	}
	if err := s.waitOffsets(when, 3*time.Minute, end, false); err != nil {
		return err
	}
	return s.consumerLag(when)
}

// drain: kubectl drain of the second node mid-stream.
func (n *twoNodes) drain() error {
	s := n.s
	pods, err := n.placement("before the drain")
	if err != nil {
		return err
	}
	on2, on1 := consumersOn(pods, n.second)
	victim, live := on2[0].name, on1[0].name
	before, err := s.assignment()
	if err != nil {
		return err
	}
	at, err := s.files()
	if err != nil {
		return err
	}
	liveUID, err := s.podUID(live)
	if err != nil {
		return err
	}
	victimUID, err := s.podUID(victim)
	if err != nil {
		return err
	}

	start := time.Now()
	n.cordoned = true
	out, err := s.kubectl("drain", n.second, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=5m")
	if err != nil {
		return err
	}
	drained := time.Since(start)
	s.t.Logf("kubectl drain %s (%s):\n%s", n.second, drained.Round(time.Millisecond), out)
	// Evicted: gone, or already made again by the StatefulSet (Pending).
	uid, err := s.kubectl("get", "pod", victim, "--ignore-not-found", "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		return err
	}
	if uid == victimUID {
		return fmt.Errorf("kubectl drain did not evict %s", victim)
	}
	// The budget allows one consumer away at a time: with the evicted one
	// not back (it cannot be: its volume is on the cordoned node), the live
	// one may not be evicted.
	switch err := n.evict(live); {
	case err == nil:
		return fmt.Errorf("evicting %s with %s away succeeded, want a refusal by the PodDisruptionBudget", live, victim)
	case !strings.Contains(err.Error(), "disruption budget"):
		return fmt.Errorf("evicting %s with %s away: %w, want a refusal by the PodDisruptionBudget", live, victim, err)
	}
	pdb, _ := s.kubectl("get", "pdb", s.consumers, "-o", `jsonpath=maxUnavailable {.spec.maxUnavailable}: {.status.currentHealthy} healthy of {.status.expectedPods}, {.status.disruptionsAllowed} disruptions allowed`)
	s.t.Logf("after the drain: the budget refuses to evict %s (%s)", live, pdb)

	// After NODE_LOST_AFTER unschedulable, the controller gives the
	// evicted pod's partitions to the live one and restarts it.
	want := failoverAssignment(ordinal(live), int(s.partitions))
	err = Eventually(s.ctx, 3*time.Minute, 500*time.Millisecond, func() error {
		got, err := s.assignment()
		if err == nil && got != want {
			err = fmt.Errorf("partitions by ordinal %q, want the failover's %q", got, want)
		}
		return err
	})
	if err != nil {
		return err
	}
	reassigned := time.Since(start)
	if err := s.waitNewPods([]string{live}, map[string]string{live: liveUID}); err != nil {
		return err
	}
	restarted := time.Since(start)
	n.figures = append(n.figures, fmt.Sprintf("drain: kubectl drain %s, reassignment %s, the live pod restarted and ready %s after the drain began",
		drained.Round(time.Second), reassigned.Round(time.Second), restarted.Round(time.Second)))
	s.t.Log(n.figures[len(n.figures)-1])
	if _, err := n.placement("drained"); err != nil {
		return err
	}
	if err := n.movedTo("drained", live, before, want, Offsets(at), "its files before the drain"); err != nil {
		return err
	}
	if err := n.consumeOn("drained: consuming on one node"); err != nil {
		return err
	}
	return s.checkStats("drained")
}

// uncordon: the second node schedulable again; its consumer comes back on
// its volume there and the controller returns to the even assignment.
func (n *twoNodes) uncordon() error {
	s := n.s
	before, err := s.assignment()
	if err != nil {
		return err
	}
	at, err := s.files()
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := s.kubectl("uncordon", n.second); err != nil {
		return err
	}
	n.cordoned = false
	after, err := s.settle(s.replicas)
	if err != nil {
		return err
	}
	n.figures = append(n.figures, fmt.Sprintf("uncordon: the even assignment back and settled %s after", time.Since(start).Round(time.Second)))
	if err := n.onBothNodes("uncordoned"); err != nil {
		return err
	}
	if err := s.checkMoved("uncordoned", before, after, Offsets(at)); err != nil {
		return err
	}
	if err := n.consumeOn("uncordoned: consuming on both nodes"); err != nil {
		return err
	}
	return s.checkStats("uncordoned")
}

// onBothNodes: one ready consumer on each node again.
func (n *twoNodes) onBothNodes(when string) error {
	pods, err := n.placement(when)
	if err != nil {
		return err
	}
	on1, _ := consumersOn(pods, n.first)
	on2, _ := consumersOn(pods, n.second)
	if len(on1) != 1 || len(on2) != 1 || !on1[0].ready || !on2[0].ready {
		return fmt.Errorf("%s: consumers %v on %s, %v on %s: want one ready on each", when, on1, n.first, on2, n.second)
	}
	return nil
}

// hardStop stops the second node hard and times the failover.
func (n *twoNodes) hardStop() error {
	s := n.s
	pods, err := n.placement("before the stop")
	if err != nil {
		return err
	}
	// The drain moved every other pod of the release to the first node:
	// the second runs only its consumer, the pod whose partitions must
	// move (the controller, the broker, the producer must live on).
	on2, on1 := consumersOn(pods, n.second)
	for _, p := range pods {
		if p.node == n.second && p.component != "consumer" {
			return fmt.Errorf("%s runs on %s: after the drain only the consumer should", p.name, n.second)
		}
	}
	if len(on2) != 1 || len(on1) != 1 {
		return fmt.Errorf("consumers %v on %s, %v elsewhere: want one each", on2, n.second, on1)
	}
	live := on1[0].name
	before, err := s.assignment()
	if err != nil {
		return err
	}
	at, err := s.files()
	if err != nil {
		return err
	}
	liveUID, err := s.podUID(live)
	if err != nil {
		return err
	}
	adm, err := s.kafka.Admin()
	if err != nil {
		return err
	}
	defer adm.Close()

	n.stopped = true
	stop, err := n.node("kill")
	if err != nil {
		return err
	}
	// The network was cut first: the victim's offsets are frozen from here.
	atStop, err := s.consumersNow(s.ctx, adm)
	if err != nil {
		return err
	}
	// The victim's newest snapshots: where its partitions must continue.
	// Its files may be past them (a snapshot follows its files a little
	// later: what the victim counted after its last snapshot died with it,
	// and is counted again from the snapshot, once).
	snaps, err := s.snapshots(s.ctx, at[0].Log.TopicID)
	if err != nil {
		return err
	}
	s.t.Logf("stopped at %s: committed %v, log end %v; files before the stop %v, snapshots at the stop %v",
		stop.Format(time.RFC3339Nano), atStop.committed, atStop.end, Offsets(at), Offsets(snaps))

	// Every half second: the node's Ready condition, the StatefulSet's
	// assignment, the committed offsets. A partition's lag falls again once
	// its committed offset has moved past where it stood at the stop and
	// reached the log's end as it was when the failover was seen (the
	// backlog of the stall consumed).
	want := failoverAssignment(ordinal(live), int(s.partitions))
	var notReady, reassigned time.Time
	var endAtFailover map[int32]int64
	advanced, caughtUp := map[int32]time.Time{}, map[int32]time.Time{}
	err = Eventually(s.ctx, 3*time.Minute, 500*time.Millisecond, func() error {
		if notReady.IsZero() {
			out, err := s.kubectl("get", "node", n.second, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastTransitionTime}`)
			if err != nil {
				return err
			}
			if f := strings.Fields(out); len(f) == 2 && f[0] != "True" {
				if notReady, err = time.Parse(time.RFC3339, f[1]); err != nil {
					return err
				}
			}
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		sm, err := s.consumersNow(ctx, adm)
		if err != nil {
			return err
		}
		if reassigned.IsZero() && sm.sts.assignment() == want {
			reassigned = sm.at
		}
		if !reassigned.IsZero() && endAtFailover == nil {
			endAtFailover = sm.end
		}
		var waiting []string
		for p := range s.partitions {
			if _, ok := advanced[p]; !ok && sm.committed[p] > atStop.committed[p] {
				advanced[p] = sm.at
			}
			if _, ok := caughtUp[p]; !ok && endAtFailover != nil && sm.committed[p] >= endAtFailover[p] {
				caughtUp[p] = sm.at
			}
			if _, ok := caughtUp[p]; !ok {
				waiting = append(waiting, fmt.Sprintf("partition %d at %d of %d", p, sm.committed[p], sm.end[p]))
			}
		}
		switch {
		case notReady.IsZero():
			return fmt.Errorf("%s still Ready", n.second)
		case reassigned.IsZero():
			return fmt.Errorf("partitions by ordinal not yet the failover's %q", want)
		case len(waiting) > 0:
			return fmt.Errorf("lag not falling yet: %s", strings.Join(waiting, ", "))
		}
		return nil
	})
	if err != nil {
		return err
	}
	var last time.Time
	var rows []string
	for p := range s.partitions {
		last = maxTime(last, caughtUp[p])
		rows = append(rows, fmt.Sprintf("partition %d (ordinal %d before): first commit past the stop's %s, caught up with the failover's log end %s",
			p, owners(before)[p], advanced[p].Sub(stop).Round(100*time.Millisecond), caughtUp[p].Sub(stop).Round(100*time.Millisecond)))
	}
	recovered := last.Sub(stop)
	n.figures = append(n.figures, fmt.Sprintf("hard stop: NotReady %s, reassignment %s, every partition's lag falling again %s after the stop (%s)",
		notReady.Sub(stop).Round(time.Second), reassigned.Sub(stop).Round(100*time.Millisecond), recovered.Round(100*time.Millisecond), strings.Join(rows, "; ")))
	s.t.Log(n.figures[len(n.figures)-1])
	if recovered > failoverBound {
		return fmt.Errorf("every partition's lag fell again %s after the stop, want within %s", recovered.Round(100*time.Millisecond), failoverBound)
	}
	if err := s.waitNewPods([]string{live}, map[string]string{live: liveUID}); err != nil {
		return err
	}
	if _, err := n.placement("second node stopped"); err != nil {
		return err
	}
	if err := n.movedTo("second node stopped", live, before, want, Offsets(snaps), "its newest snapshot at the stop"); err != nil {
		return err
	}
	if err := n.consumeOn("second node stopped: consuming on one node"); err != nil {
		return err
	}
	return s.checkStats("second node stopped")
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nodeBack starts the second node again: its consumer comes back and the
// even assignment returns.
func (n *twoNodes) nodeBack() error {
	s := n.s
	before, err := s.assignment()
	if err != nil {
		return err
	}
	at, err := s.files()
	if err != nil {
		return err
	}
	started, err := n.node("start")
	if err != nil {
		return err
	}
	n.stopped = false
	if _, err := s.kubectl("wait", "--for=condition=Ready", "node/"+n.second, "--timeout=2m"); err != nil {
		return err
	}
	ready := time.Since(started)
	after, err := s.settle(s.replicas)
	if err != nil {
		return err
	}
	n.figures = append(n.figures, fmt.Sprintf("node back: Ready %s after its kubelet started, the even assignment back and settled %s after",
		ready.Round(time.Second), time.Since(started).Round(time.Second)))
	if err := n.onBothNodes("second node back"); err != nil {
		return err
	}
	if err := s.checkMoved("second node back", before, after, Offsets(at)); err != nil {
		return err
	}
	if err := n.consumeOn("second node back: consuming on both nodes"); err != nil {
		return err
	}
	return s.checkStats("second node back")
}

func (n *twoNodes) remove() error {
	s := n.s
	if _, err := s.k.HelmOut(s.ctx, "uninstall", s.release, "--timeout", "3m"); err != nil {
		return err
	}
	_, err := s.kubectl("delete", "namespace", s.k.Namespace, "--wait=true", "--timeout=3m")
	return err
}

// report logs the figures of the steps together.
func (n *twoNodes) report() {
	n.s.t.Logf("two nodes: figures:\n  %s", strings.Join(n.figures, "\n  "))
}
