package e2e

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConsumersScaleOnLag installs KEDA (hack/cluster/keda.sh: KEDA's own
// manifests and binaries, built from its Go module) and the chart with
// consumer.autoscaling on, and proves with a real KEDA that the stats
// consumers follow their lag:
//   - with the producer paced, KEDA holds them at minReplicaCount;
//   - the producer at full speed: the lag of the monitoring group grows,
//     KEDA's HPA raises the StatefulSet's replicas to maxReplicaCount, and
//     at every settled count the partition controller has given each pod
//     an even share (counts differing by at most one, every partition
//     exactly once; each pod serves the lag of its own);
//   - the producer paced again: the lag falls below one pod's lagThreshold,
//     and after the scale-down window the consumers shrink to the minimum;
//   - after each of those steps the stats equal a recount of the topic.
//
// A timeline of the replicas and the total lag is sampled every second and
// logged, with the times from the burst to the first scale-up and from the
// catch-up to the first scale-down, and each partition's longest pause
// (its committed offset standing still behind the log end) while the
// consumers were scaled.
//
// Its namespace: E2E_KEDA_NAMESPACE (default weather-keda); KEDA's script:
// E2E_KEDA_CTL (hack/cluster/e2e.sh sets it); the rest as TestChart's.
func TestConsumersScaleOnLag(t *testing.T) {
	s := newSuite(t, env("E2E_KEDA_NAMESPACE", "weather-keda"))
	a := &lagScaling{s: s, ctl: env("E2E_KEDA_CTL", "../keda.sh")}
	t.Cleanup(a.cleanup)
	s.phase("KEDA installed (hack/cluster/keda.sh install: CRDs, operator, metrics API server)", a.installKEDA)
	s.phase("helm install with consumer.autoscaling: KEDA holds the consumers at the minimum", a.install)
	s.phase("stats = recount of the topic (one consumer)", func() error { return s.checkStats("one consumer") })
	s.phase("the producer at full speed: the lag grows, KEDA scales the consumers to the maximum, the partitions spread evenly", a.burst)
	s.phase("the producer paced: the lag falls, stats = recount of the topic", a.catchUp)
	s.phase("KEDA scales the consumers down to the minimum, stats = recount of the topic", a.scaleDown)
	s.phase("helm uninstall, the namespace deleted, KEDA uninstalled", a.remove)
	a.report()
}

// The autoscaling values of the test: from one pod to one per partition,
// a pod per lagThreshold records of lag (at full speed the producer's open
// transactions alone, up to TXN_MAX_RECORDS 10,000, are several times
// that; paced, at 10 reports/s, the lag stays far below), and fast: KEDA
// reads the lag every 5 s, the HPA acts at once on a rise (doubling at
// most every 10 s) and removes a pod every 10 s once the lag has stayed low
// for scaleDownWindow.
const (
	minConsumers    = 1
	maxConsumers    = 4
	lagThreshold    = 1000
	scaleDownWindow = 60 * time.Second
)

type lagScaling struct {
	s   *suite
	ctl string // hack/cluster/keda.sh

	installed bool   // KEDA, for cleanup
	producer  string // the producer's Deployment
	interval  string // its INTERVAL as installed (paced)
	adm       *kadm.Client
	timeline  *timeline

	burstAt, pacedAt, caughtUpAt time.Time
	figures                      []string
}

func (a *lagScaling) keda(what string) error {
	s := a.s
	s.t.Logf("$ %s %s", a.ctl, what)
	out, err := exec.CommandContext(s.ctx, a.ctl, what).CombinedOutput()
	s.t.Logf("%s", out)
	if err != nil {
		return fmt.Errorf("%s %s: %w", a.ctl, what, err)
	}
	return nil
}

func (a *lagScaling) installKEDA() error {
	start := time.Now()
	a.installed = true
	if err := a.keda("install"); err != nil {
		return err
	}
	a.figures = append(a.figures, fmt.Sprintf("KEDA installed and its metrics API served in %s", time.Since(start).Round(time.Second)))
	return nil
}

func (a *lagScaling) install() error {
	s := a.s
	if err := s.freshNamespace(); err != nil {
		return err
	}
	err := s.helmInstall(
		"consumer.autoscaling.enabled=true",
		"consumer.autoscaling.minReplicaCount="+strconv.Itoa(minConsumers),
		"consumer.autoscaling.maxReplicaCount="+strconv.Itoa(maxConsumers),
		"consumer.autoscaling.lagThreshold="+strconv.Itoa(lagThreshold),
		"consumer.autoscaling.pollingInterval=5",
		"consumer.autoscaling.scaleUp.stabilizationWindowSeconds=0",
		"consumer.autoscaling.scaleUp.periodSeconds=10",
		"consumer.autoscaling.scaleDown.stabilizationWindowSeconds="+strconv.Itoa(int(scaleDownWindow.Seconds())),
		"consumer.autoscaling.scaleDown.periodSeconds=10",
	)
	if err != nil {
		return err
	}
	if err := s.learn(); err != nil {
		return err
	}
	if a.producer, err = s.kubectl("get", "deployment", "-l", s.selector("producer"), "-o", "jsonpath={.items[0].metadata.name}"); err != nil {
		return err
	}
	if a.interval, err = s.kubectl("get", "deployment", a.producer, "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="INTERVAL")].value}`); err != nil {
		return err
	}
	if a.adm, err = s.kafka.Admin(); err != nil {
		return err
	}
	// KEDA has taken the StatefulSet over: its ScaledObject is ready and
	// active or not, its HPA exists.
	err = Eventually(s.ctx, 2*time.Minute, 2*time.Second, func() error {
		ready, err := s.kubectl("get", "scaledobject", s.consumers, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err == nil && ready != "True" {
			err = fmt.Errorf("scaledobject %s: Ready %q", s.consumers, ready)
		}
		return err
	})
	if err != nil {
		return err
	}
	a.watch("installed")
	a.timeline = a.record(time.Second)
	if _, err := s.settle(minConsumers); err != nil {
		return err
	}
	return s.filesGrow()
}

// watch logs what a person would look at: the ScaledObject and its HPA.
func (a *lagScaling) watch(when string) {
	out, err := a.s.kubectl("get", "scaledobject,hpa", "-o", "wide")
	if err != nil {
		out += err.Error()
	}
	a.s.t.Logf("%s: $ kubectl get scaledobject,hpa -o wide\n%s", when, out)
}

// setInterval sets the producer's INTERVAL (a rollout of its Deployment:
// it resumes the stream after the last report in the topic).
func (a *lagScaling) setInterval(interval string) error {
	if _, err := a.s.kubectl("set", "env", "deployment/"+a.producer, "INTERVAL="+interval); err != nil {
		return err
	}
	_, err := a.s.kubectl("rollout", "status", "deployment/"+a.producer, "--timeout=3m")
	return err
}

// replicasReach waits until KEDA has set the StatefulSet's replicas to n.
func (a *lagScaling) replicasReach(n int, timeout time.Duration) error {
	return Eventually(a.s.ctx, timeout, time.Second, func() error {
		last, ok := a.timeline.last()
		switch {
		case !ok:
			return fmt.Errorf("no sample of the consumers yet")
		case last.sts.Spec.Replicas != n:
			return fmt.Errorf("statefulset %s: replicas %d, want %d (total lag %d)", a.s.consumers, last.sts.Spec.Replicas, n, last.lag())
		}
		return nil
	})
}

// burst: the producer at full speed until KEDA has scaled the consumers to
// the maximum and they have settled.
func (a *lagScaling) burst() error {
	a.burstAt = time.Now()
	if err := a.setInterval("0s"); err != nil {
		return err
	}
	return a.scaledTo(maxConsumers, "scaled up")
}

// scaledTo waits until KEDA has set the StatefulSet's replicas to n and the
// consumers have settled there; then every settled assignment of the
// timeline was even, and each partition's lag is served by one ready pod.
func (a *lagScaling) scaledTo(n int, what string) error {
	s := a.s
	if err := a.replicasReach(n, 5*time.Minute); err != nil {
		return err
	}
	if _, err := s.settle(n); err != nil {
		return err
	}
	a.watch(what)
	if err := a.evenWhenSettled(n); err != nil {
		return err
	}
	return s.consumerLag(fmt.Sprintf("%s to %d", what, n))
}

// evenWhenSettled: at every sample of the timeline where the partition
// controller had reached its target for the StatefulSet's replicas (the
// assignment it aims at, weather.io/partitions-target, one entry per pod,
// rolled out on all of them, all ready), each pod's share of the partitions
// differed from another's by at most one, and every partition had exactly
// one pod. Such a sample at n replicas must come.
func (a *lagScaling) evenWhenSettled(n int) error {
	checked := map[string]bool{}
	err := Eventually(a.s.ctx, 30*time.Second, time.Second, func() error {
		for _, c := range a.timeline.samples() {
			if !a.settledAt(c) || checked[c.sts.assignment()] {
				continue
			}
			if err := evenShares(c.sts.assignment(), c.sts.Spec.Replicas, int(a.s.partitions)); err != nil {
				return fmt.Errorf("at %s: %w", c.at.Format(time.RFC3339), err)
			}
			checked[c.sts.assignment()] = true
			if c.sts.Spec.Replicas == n {
				return nil
			}
		}
		return fmt.Errorf("no sample of the consumers settled at %d replicas yet", n)
	})
	a.s.t.Logf("settled assignments seen, each even: %q", slices.Sorted(maps.Keys(checked)))
	return err
}

// settledAt: at c the partition controller had reached its target for the
// replicas and every pod ran it, ready.
func (a *lagScaling) settledAt(c consumersNow) bool {
	st, n := c.sts.Status, c.sts.Spec.Replicas
	target := c.sts.Metadata.Annotations["weather.io/partitions-target"]
	return c.sts.rolledOut() && st.ReadyReplicas == n && st.UpdatedReplicas == n &&
		target == c.sts.assignment() && len(strings.Split(target, ";")) == min(n, int(a.s.partitions))
}

// evenShares checks PARTITIONS_BY_ORDINAL of n pods: every partition on
// exactly one of the n ordinals, and the pods' counts at most one apart.
func evenShares(assignment string, n, partitions int) error {
	counts := make([]int, n)
	seen := map[int]int{}
	for ordinal, list := range strings.Split(assignment, ";") {
		for _, f := range strings.Split(list, ",") {
			if f == "" {
				continue
			}
			p, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("partitions by ordinal %q: %w", assignment, err)
			}
			if ordinal >= n {
				return fmt.Errorf("partitions by ordinal %q: partition %d on ordinal %d of %d pods", assignment, p, ordinal, n)
			}
			seen[p]++
			counts[ordinal]++
		}
	}
	for p := range partitions {
		if seen[p] != 1 {
			return fmt.Errorf("partitions by ordinal %q: partition %d on %d pods, want one", assignment, p, seen[p])
		}
	}
	if len(seen) != partitions {
		return fmt.Errorf("partitions by ordinal %q: %d partitions, want %d", assignment, len(seen), partitions)
	}
	if slices.Max(counts)-slices.Min(counts) > 1 {
		return fmt.Errorf("partitions by ordinal %q: shares of %v partitions per pod, want at most one apart", assignment, counts)
	}
	return nil
}

// catchUp: the producer paced again; the lag falls below one pod's
// threshold, the files reach the topic's end, stats = recount.
func (a *lagScaling) catchUp() error {
	s := a.s
	a.pacedAt = time.Now()
	if err := a.setInterval(a.interval); err != nil {
		return err
	}
	err := Eventually(s.ctx, 3*time.Minute, time.Second, func() error {
		last, ok := a.timeline.last()
		if !ok || last.at.Before(a.pacedAt) || last.lag() >= lagThreshold {
			return fmt.Errorf("total lag %d, waiting for less than %d", last.lag(), lagThreshold)
		}
		a.caughtUpAt = last.at
		return nil
	})
	if err != nil {
		return err
	}
	_, end, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return err
	}
	if err := s.waitOffsets("caught up", 3*time.Minute, end, false); err != nil {
		return err
	}
	return s.checkStats(fmt.Sprintf("caught up, %d consumers", maxConsumers))
}

// scaleDown: with the lag low for the scale-down window, KEDA removes pods
// one at a time down to the minimum.
func (a *lagScaling) scaleDown() error {
	if err := a.scaledTo(minConsumers, "scaled down"); err != nil {
		return err
	}
	return a.s.checkStats(fmt.Sprintf("scaled down to %d", minConsumers))
}

func (a *lagScaling) remove() error {
	s := a.s
	a.stopRecording()
	if _, err := s.k.HelmOut(s.ctx, "uninstall", s.release, "--wait", "--timeout", "3m"); err != nil {
		return err
	}
	if _, err := s.kubectl("delete", "namespace", s.k.Namespace, "--wait=true", "--timeout=3m"); err != nil {
		return err
	}
	a.installed = false
	return a.keda("uninstall")
}

// cleanup stops the timeline and, if the test stopped half-way, shows
// KEDA's view and removes it: the tests after this one need no KEDA, and an
// APIService without its server would fail every discovery.
func (a *lagScaling) cleanup() {
	a.stopRecording()
	if !a.installed {
		return
	}
	s := a.s
	k := s.k
	k.Log = func(string, ...any) {}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"get", "scaledobject,hpa", "-o", "wide"},
		{"describe", "scaledobject,hpa"},
		{"--namespace", "keda", "logs", "deployment/keda-operator", "--tail=60"},
		{"--namespace", "keda", "logs", "deployment/keda-metrics-apiserver", "--tail=30"},
	} {
		out, err := k.KubectlOut(ctx, args...)
		if err != nil {
			out += "\n" + err.Error()
		}
		fmt.Printf("\n----- kubectl %s\n%s\n", strings.Join(args, " "), out)
	}
	if _, err := s.k.HelmOut(ctx, "uninstall", s.release, "--wait", "--timeout", "1m"); err != nil {
		s.t.Logf("helm uninstall: %v", err)
	}
	if err := a.keda("uninstall"); err != nil {
		s.t.Errorf("KEDA left installed: %v", err)
	}
}

func (a *lagScaling) stopRecording() {
	if a.timeline != nil {
		a.timeline.stop()
	}
	if a.adm != nil {
		a.adm.Close()
		a.adm = nil
	}
}

// ---------------------------------------------------------------- timeline ---

// timeline is the consumers sampled (consumersNow) in the background.
type timeline struct {
	mu   sync.Mutex
	all  []consumersNow
	stop func() // waits until sampling has stopped
}

// record samples the consumers every interval until the timeline is
// stopped; a failed sample (a broker or API server hiccup) is skipped.
func (a *lagScaling) record(interval time.Duration) *timeline {
	ctx, cancel := context.WithCancel(a.s.ctx)
	tl := &timeline{}
	done := make(chan struct{})
	tl.stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := a.s.consumersNow(sctx, a.adm)
			scancel()
			if err == nil {
				tl.mu.Lock()
				tl.all = append(tl.all, c)
				tl.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return tl
}

func (tl *timeline) samples() []consumersNow {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.all)
}

func (tl *timeline) last() (consumersNow, bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.all) == 0 {
		return consumersNow{}, false
	}
	return tl.all[len(tl.all)-1], true
}

// firstAfter is the time of the first sample at or after from whose
// replicas satisfy ok.
func firstAfter(samples []consumersNow, from time.Time, ok func(replicas int) bool) (time.Time, bool) {
	for _, c := range samples {
		if !c.at.Before(from) && ok(c.sts.Spec.Replicas) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// longestPauses is each partition's longest run of samples in [from, to]
// in which its committed offset stood still while behind the log end.
func longestPauses(samples []consumersNow, from, to time.Time) map[int32]time.Duration {
	longest := map[int32]time.Duration{}
	since := map[int32]time.Time{} // the start of a partition's current pause
	var prev *consumersNow
	for i := range samples {
		c := &samples[i]
		if c.at.Before(from) || c.at.After(to) {
			continue
		}
		for p, end := range c.end {
			switch {
			case prev == nil || c.committed[p] != prev.committed[p] || end <= c.committed[p]:
				delete(since, p)
			case since[p].IsZero():
				since[p] = prev.at
				fallthrough
			default:
				longest[p] = max(longest[p], c.at.Sub(since[p]))
			}
		}
		prev = c
	}
	return longest
}

// report logs the timeline (a row every 5 s, and every change of the
// replicas) and the figures.
func (a *lagScaling) report() {
	s := a.s
	samples := a.timeline.samples()
	if len(samples) == 0 {
		return
	}
	t0 := a.burstAt
	var b strings.Builder
	fmt.Fprintf(&b, "scaling on lag: timeline (seconds from the burst; the monitoring group's total lag; replicas asked for by KEDA's HPA / ready):\n")
	var lastRow time.Time
	var lastState string
	for _, c := range samples {
		state := fmt.Sprintf("replicas %d/%d  partitions by ordinal %q", c.sts.Spec.Replicas, c.sts.Status.ReadyReplicas, c.sts.assignment())
		if state == lastState && c.at.Sub(lastRow) < 5*time.Second {
			continue
		}
		fmt.Fprintf(&b, "  %+6.0fs  lag %8d  %s\n", c.at.Sub(t0).Seconds(), c.lag(), state)
		lastRow, lastState = c.at, state
	}
	if up, ok := firstAfter(samples, a.burstAt, func(r int) bool { return r > minConsumers }); ok {
		a.figures = append(a.figures, fmt.Sprintf("burst to the first scale-up: %s", up.Sub(a.burstAt).Round(time.Second)))
	}
	if top, ok := firstAfter(samples, a.burstAt, func(r int) bool { return r == maxConsumers }); ok {
		a.figures = append(a.figures, fmt.Sprintf("burst to %d replicas: %s", maxConsumers, top.Sub(a.burstAt).Round(time.Second)))
	}
	if !a.caughtUpAt.IsZero() {
		a.figures = append(a.figures, fmt.Sprintf("producer paced to caught up (lag < %d): %s", lagThreshold, a.caughtUpAt.Sub(a.pacedAt).Round(time.Second)))
		if down, ok := firstAfter(samples, a.caughtUpAt, func(r int) bool { return r < maxConsumers }); ok {
			a.figures = append(a.figures, fmt.Sprintf("caught up to the first scale-down: %s (scale-down window %s)", down.Sub(a.caughtUpAt).Round(time.Second), scaleDownWindow))
		}
		if bottom, ok := firstAfter(samples, a.caughtUpAt, func(r int) bool { return r == minConsumers }); ok {
			a.figures = append(a.figures, fmt.Sprintf("caught up to %d replica: %s", minConsumers, bottom.Sub(a.caughtUpAt).Round(time.Second)))
		}
	}
	// A partition's committed offset stands still only while its pod
	// restarts (at full speed it moves every batch; paced, about every
	// second, with each transaction).
	a.figures = append(a.figures,
		fmt.Sprintf("longest pause of each partition, scaling up (full speed): %v", roundAll(longestPauses(samples, a.burstAt, a.pacedAt))),
		fmt.Sprintf("longest pause of each partition, scaling down (paced): %v", roundAll(longestPauses(samples, a.caughtUpAt, samples[len(samples)-1].at))))
	if !a.pacedAt.IsZero() {
		a.figures = append(a.figures, fmt.Sprintf("the producer at full speed: %d reports in %s", produced(samples, a.burstAt, a.pacedAt), a.pacedAt.Sub(a.burstAt).Round(time.Second)))
	}
	fmt.Fprintf(&b, "figures:\n  %s", strings.Join(a.figures, "\n  "))
	s.t.Log(b.String())
}

// produced is how many records the topic gained between the samples
// nearest after from and before to.
func produced(samples []consumersNow, from, to time.Time) int64 {
	var first, last *consumersNow
	for i := range samples {
		if c := &samples[i]; !c.at.Before(from) && !c.at.After(to) {
			if first == nil {
				first = c
			}
			last = c
		}
	}
	if first == nil {
		return 0
	}
	var n int64
	for p, end := range last.end {
		n += end - first.end[p]
	}
	return n
}

func roundAll(d map[int32]time.Duration) map[int32]string {
	out := map[int32]string{}
	for p, v := range d {
		out[p] = v.Round(100 * time.Millisecond).String()
	}
	return out
}

func TestEvenShares(t *testing.T) {
	for _, tc := range []struct {
		assignment string
		n          int
		ok         bool
	}{
		{"0,1,2,3", 1, true},
		{"0,2;1,3", 2, true},
		{"0,3;1;2", 3, true},
		{"0;1;2;3", 4, true},
		{"0,1,2;3", 2, false},   // 3 and 1
		{"0,2;1", 2, false},     // partition 3 on no pod
		{"0,2;1,2,3", 2, false}, // partition 2 on two
		{"0;1;2;3", 3, false},   // an ordinal beyond the pods
		{"0;1;x;3", 4, false},
	} {
		if err := evenShares(tc.assignment, tc.n, 4); (err == nil) != tc.ok {
			t.Errorf("evenShares(%q, %d): %v, want ok %v", tc.assignment, tc.n, err, tc.ok)
		}
	}
}

func TestLongestPauses(t *testing.T) {
	t0 := time.Unix(1000, 0)
	sample := func(sec int, committed, end int64) consumersNow {
		return consumersNow{at: t0.Add(time.Duration(sec) * time.Second),
			committed: map[int32]int64{0: committed}, end: map[int32]int64{0: end}}
	}
	samples := []consumersNow{
		sample(0, 10, 20),
		sample(1, 15, 25), // moving
		sample(2, 15, 30), // stands still from 1 s
		sample(3, 15, 35),
		sample(4, 15, 40), // 3 s
		sample(5, 40, 40),
		sample(6, 40, 40), // caught up: no pause
		sample(7, 40, 40),
		sample(8, 40, 45),
		sample(9, 41, 50), // 1 s
	}
	got := longestPauses(samples, t0, t0.Add(time.Minute))
	if got[0] != 3*time.Second {
		t.Errorf("longest pause %s, want 3s", got[0])
	}
	if got := longestPauses(samples, t0.Add(5*time.Second), t0.Add(time.Minute)); got[0] != time.Second {
		t.Errorf("longest pause from 5 s: %s, want 1s", got[0])
	}
}
