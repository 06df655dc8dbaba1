package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weatherstream/weather/hack/verify"
)

// TestUpgradeFromSharedVolume installs a release of the previous chart —
// the commit hack/images/previous.sh names (E2E_PREVIOUS_CHART): one PVC
// shared by every consumer pod, partition files with their "log" inside, no
// snapshot topic — with that commit's own images, lets it run, and upgrades
// it in place with helm upgrade to this chart and this tree's images, the
// values the same but the image tags. It proves:
//   - the previous release runs: its files on the shared volume equal a
//     recount of the topic;
//   - helm upgrade --wait succeeds: the previous consumer StatefulSet
//     (<release>-consumer, whose volumeClaimTemplates cannot be added) is
//     replaced by <release>-stats with a volume per pod, and the upgrade's
//     NOTES say that the shared volume is kept, that the consumers count
//     again, and how to delete it;
//   - the broker comes back on the same log (the claim's data/ the old
//     chart used: the same meta.properties, topic ID and log start);
//   - the new consumers start on empty volumes with no snapshot, so they
//     count every partition again from offset 0 (their logs say so); the
//     test times how long they take to pass what the previous release had
//     counted;
//   - nothing is lost: the stats then equal the recount (files on every
//     volume, snapshots, the dashboard), the topic is the producer's stream
//     without gap or duplicate across the upgrade, and the shared volume is
//     still there (helm.sh/resource-policy: keep) with the previous
//     release's files, themselves equal to the recount at their offsets;
//     helm test passes;
//   - then the release is uninstalled and its namespace deleted.
//
// Its namespace: E2E_UPGRADE_NAMESPACE (default weather-upgrade); the
// previous chart and its --set values: E2E_PREVIOUS_CHART and
// E2E_PREVIOUS_HELM_SET (hack/cluster/e2e.sh sets them); the rest as
// TestChart's.
func TestUpgradeFromSharedVolume(t *testing.T) {
	u := &upgrade{chart: os.Getenv("E2E_PREVIOUS_CHART"), sets: strings.Fields(os.Getenv("E2E_PREVIOUS_HELM_SET"))}
	if os.Getenv("KUBECONFIG") != "" && u.chart == "" {
		t.Fatal("E2E_PREVIOUS_CHART is not set: run through hack/cluster/e2e.sh (hack/images/previous.sh builds the previous chart's images)")
	}
	u.s = newSuite(t, env("E2E_UPGRADE_NAMESPACE", "weather-upgrade"))
	s := u.s
	s.phase("helm install of the previous chart (one shared volume) with its own images", u.installPrevious)
	s.phase(fmt.Sprintf("the previous release counts %d+ reports onto its shared volume: its files = recount", u.reports()), u.previousRuns)
	s.phase("helm upgrade to this chart and images, in place (--wait)", u.upgrade)
	s.phase("the broker is back on the same log", u.sameLog)
	s.phase("the new consumers count every partition again from offset 0 and pass the previous files", u.recount)
	s.phase("stats = recount after the upgrade (nothing lost); the shared volume kept with its files", u.nothingLost)
	s.phase("helm test passes after the upgrade", s.helmTest)
	s.phase("helm uninstall and the namespace deleted", u.remove)
}

type upgrade struct {
	s     *suite
	chart string   // the previous chart
	sets  []string // its --set values (its images)

	sharedClaim string // the previous chart's PVC of every consumer pod
	sharedDir   string // its PV's directory on this host
	oldSTS      string // the previous consumer StatefulSet
	kafkaPod    string
	log0        brokerLog
	start0      map[int32]int64
	end0        map[int32]int64
	upgradeAt   time.Time
	previous    map[int32]File // the shared volume's files once the previous consumers stopped
}

// reports is how many reports the previous release counts before the
// upgrade: what the new consumers count again.
func (u *upgrade) reports() int64 { return 10_000 }

// interval is the producer's, before and after: a report every 10 ms.
const upgradeInterval = "producer.interval=10ms"

func (u *upgrade) installPrevious() error {
	s := u.s
	if err := s.freshNamespace(); err != nil {
		return err
	}
	args := []string{"install", s.release, u.chart, "--create-namespace", "--wait", "--timeout", "10m", "--set", upgradeInterval}
	for _, set := range u.sets {
		args = append(args, "--set", set)
	}
	if _, err := s.k.HelmOut(s.ctx, args...); err != nil {
		return err
	}
	if err := s.learn(); err != nil {
		return err
	}
	u.oldSTS = s.consumers
	claim, err := s.kubectl("get", "statefulset", s.consumers, "-o",
		"jsonpath={.spec.template.spec.volumes[?(@.persistentVolumeClaim)].persistentVolumeClaim.claimName}")
	if err != nil {
		return err
	}
	if claim == "" || strings.Contains(claim, " ") {
		return fmt.Errorf("statefulset %s mounts claims %q: want the previous chart's one shared claim", s.consumers, claim)
	}
	u.sharedClaim = claim
	pv, err := s.kubectl("get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
	if err != nil {
		return err
	}
	if u.sharedDir, err = s.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}{.spec.local.path}"); err != nil {
		return err
	}
	if u.sharedDir == "" {
		return fmt.Errorf("PV %s of PVC %s is neither hostPath nor local", pv, claim)
	}
	pods, err := s.podNames("kafka")
	if err != nil {
		return err
	}
	if len(pods) != 1 {
		return fmt.Errorf("kafka pods %v, want one", pods)
	}
	u.kafkaPod = pods[0]
	s.t.Logf("previous release: statefulset %s, every pod on claim %s (%s)", s.consumers, claim, u.sharedDir)
	return s.allReady()
}

// previousFiles reads the shared volume's files, in the previous format.
func (u *upgrade) previousFiles() (map[int32]File, error) {
	files := map[int32]File{}
	for p := range u.s.partitions {
		data, err := os.ReadFile(filepath.Join(u.sharedDir, fmt.Sprintf("partition-%d.json", p)))
		if errors.Is(err, os.ErrNotExist) {
			return files, fmt.Errorf("no partition-%d.json on %s yet", p, u.sharedClaim)
		}
		if err != nil {
			return nil, err
		}
		if files[p], err = ParsePreviousFile(data); err != nil {
			return nil, fmt.Errorf("%s partition-%d.json: %w", u.sharedClaim, p, err)
		}
	}
	return files, nil
}

// ParsePreviousFile reads a partition file of the previous release: the
// original's format with the file's log inside ("log": {"topic",
// "topic_id", "partition"}), read as hack/verify reads the original's once
// the log is taken out.
func ParsePreviousFile(data []byte) (File, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return File{}, err
	}
	logRaw, ok := raw["log"]
	if !ok {
		return File{}, errors.New(`no "log": not the previous release's format`)
	}
	var log Log
	if err := json.Unmarshal(logRaw, &log); err != nil {
		return File{}, fmt.Errorf("log: %w", err)
	}
	delete(raw, "log")
	original, err := json.Marshal(raw)
	if err != nil {
		return File{}, err
	}
	f, err := verify.ParseFile(original)
	f.Log = log
	return f, err
}

func (u *upgrade) previousRuns() error {
	s := u.s
	var files map[int32]File
	err := Eventually(s.ctx, 6*time.Minute, 2*time.Second, func() error {
		var err error
		if files, err = u.previousFiles(); err != nil {
			return err
		}
		var sum int64
		for _, f := range files {
			sum += f.Offset
		}
		if sum < u.reports() {
			return fmt.Errorf("the previous files are at offsets %v (%d in all), waiting for %d", Offsets(files), sum, u.reports())
		}
		return nil
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Minute)
	defer cancel()
	rc, err := s.kafka.Recount(ctx, Offsets(files), s.seed)
	if err != nil {
		return err
	}
	if diffs := append(Compare(files, rc), rc.StreamErrors...); len(diffs) > 0 {
		return fmt.Errorf("the previous release's files differ from the recount:\n  %s", strings.Join(diffs, "\n  "))
	}
	s.t.Logf("the previous release's files on %s, at %v (the log inside: %+v), equal the recount", u.sharedClaim, Offsets(files), files[0].Log)
	if u.log0, err = s.brokerLog(u.kafkaPod); err != nil {
		return err
	}
	u.start0, u.end0, err = s.kafka.Offsets(s.ctx)
	return err
}

func (u *upgrade) upgrade() error {
	s := u.s
	uid, err := s.podUID(u.kafkaPod)
	if err != nil {
		return err
	}
	u.upgradeAt = time.Now()
	args := []string{"upgrade", s.release, s.chart, "--wait", "--timeout", "10m", "--set", upgradeInterval}
	for _, set := range strings.Fields(os.Getenv("E2E_HELM_SET")) {
		args = append(args, "--set", set)
	}
	out, err := s.k.HelmOut(s.ctx, args...)
	if err != nil {
		return err
	}
	s.t.Logf("helm upgrade took %s", time.Since(u.upgradeAt).Round(time.Second))
	// What the upgrade told (NOTES.txt, with lookup of the live objects).
	ns := s.k.Namespace
	for _, want := range []string{
		"persistentvolumeclaim/" + u.sharedClaim + ", the stats volume of the shared-volume chart,\nis kept",
		"replacing statefulset/" + u.oldSTS + ")",
		"they count\nevery partition again from offset 0",
		"kubectl -n " + ns + " delete pvc " + u.sharedClaim + "\n",
	} {
		if !strings.Contains(out, want) {
			return fmt.Errorf("helm upgrade's NOTES lack %q:\n%s", want, out)
		}
	}
	if err := s.learn(); err != nil {
		return err
	}
	if s.consumers == u.oldSTS {
		return fmt.Errorf("the consumers' StatefulSet is still %s", s.consumers)
	}
	if err := s.perPodVolumes(); err != nil {
		return err
	}
	// The previous StatefulSet and its pods are gone; the broker's pod was
	// replaced (a new template), on the same claim.
	err = Eventually(s.ctx, 3*time.Minute, 2*time.Second, func() error {
		left, err := s.kubectl("get", "statefulset,pods", "-l", s.selector("consumer"), "-o",
			`jsonpath={range .items[*]}{.kind}/{.metadata.name}{" "}{.metadata.ownerReferences[0].name}{"\n"}{end}`)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(left, "\n") {
			if strings.Contains(line, u.oldSTS) {
				return fmt.Errorf("the previous consumers are still there: %s", left)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.waitNewPods([]string{u.kafkaPod}, map[string]string{u.kafkaPod: uid}); err != nil {
		return err
	}
	return s.allReady()
}

// sameLog: the broker runs on the log it had (the claim's data/, as the
// previous chart's broker kept it), the topic the same and none of it lost.
func (u *upgrade) sameLog() error {
	s := u.s
	log1, err := s.brokerLog(u.kafkaPod)
	if err != nil {
		return err
	}
	if log1 != u.log0 || log1.meta != log1.onClaim {
		return fmt.Errorf("the broker came back on another log: before %+v, after %+v", u.log0, log1)
	}
	start1, end1, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return err
	}
	for p, e := range u.end0 {
		if start1[p] != u.start0[p] || end1[p] < e {
			return fmt.Errorf("partition %d: log was [%d, %d) before the upgrade, [%d, %d) after: data lost", p, u.start0[p], e, start1[p], end1[p])
		}
	}
	s.t.Logf("the same log: topic ID %s, %s; start %v, end %v -> %v", log1.topicID, strings.ReplaceAll(log1.meta, "\n", " "), start1, u.end0, end1)
	return nil
}

// recount: every new consumer started each of its partitions at offset 0
// (an empty volume, no snapshot), and the new files pass the previous
// release's last ones; how long that took is logged.
func (u *upgrade) recount() error {
	s := u.s
	var err error
	if u.previous, err = u.previousFiles(); err != nil {
		return err
	}
	assignment, err := s.assignment()
	if err != nil {
		return err
	}
	ordinals := owners(assignment)
	var first time.Time
	for p := range s.partitions {
		pod := fmt.Sprintf("%s-%d", s.consumers, ordinals[p])
		if _, err := s.starts(pod, []int32{p}); err != nil {
			return err
		}
		// The first start of the partition: in the pod's previous
		// container if it restarted (its consumer began while the broker
		// rolled, and may have stopped), else in this one.
		restarts, err := s.kubectl("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
		if err != nil {
			return err
		}
		previous, _ := s.kubectl("logs", pod, "--previous") // none: no earlier container
		current, err := s.kubectl("logs", pod)
		if err != nil {
			return err
		}
		st, ok := firstStart(previous+"\n"+current, p)
		switch {
		case !ok:
			return fmt.Errorf("%s: no line says where partition %d started", pod, p)
		case st.from == "snapshot":
			return fmt.Errorf("%s restored partition %d from a snapshot at %d: the previous chart published none", pod, p, st.offset)
		case st.from != "log start" && restarts == "1":
			return fmt.Errorf("%s continued partition %d from its %s at %d: want offset 0 (an empty volume, no snapshot)", pod, p, st.from, st.offset)
		case st.from != "log start":
			// Earlier containers' logs are gone: its volume was empty at
			// its first start all the same (a claim made at the upgrade).
			s.t.Logf("%s (%s restarts): partition %d's first start is not in the logs kept; from its %s at %d now", pod, restarts, p, st.from, st.offset)
		case first.IsZero() || st.at.Before(first):
			first = st.at
		}
	}
	want := Offsets(u.previous)
	var total int64
	for _, o := range want {
		total += o
	}
	if err := s.waitOffsets("past the previous release's files", 5*time.Minute, want, false); err != nil {
		return err
	}
	done := time.Now()
	s.t.Logf("recount after the upgrade: %d offsets (the previous files at %v) counted again from offset 0 in %s from the consumers' first start (%s), %s from helm upgrade",
		total, want, done.Sub(first).Round(100*time.Millisecond), first.Format(time.RFC3339Nano), done.Sub(u.upgradeAt).Round(100*time.Millisecond))
	return nil
}

// nothingLost: the stats equal the recount everywhere (checkStats), and the
// shared volume is kept, Bound, with the previous release's files, equal to
// the recount at their offsets.
func (u *upgrade) nothingLost() error {
	s := u.s
	if err := s.checkStats("after the upgrade"); err != nil {
		return err
	}
	phase, err := s.kubectl("get", "pvc", u.sharedClaim, "-o", "jsonpath={.status.phase} {.metadata.annotations.helm\\.sh/resource-policy}")
	if err != nil {
		return fmt.Errorf("the shared volume is gone: %w", err)
	}
	if phase != "Bound keep" {
		return fmt.Errorf("PVC %s: phase and resource-policy %q, want Bound keep", u.sharedClaim, phase)
	}
	files, err := u.previousFiles()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Minute)
	defer cancel()
	rc, err := s.kafka.Recount(ctx, Offsets(files), s.seed)
	if err != nil {
		return err
	}
	if diffs := Compare(files, rc); len(diffs) > 0 {
		return fmt.Errorf("the kept previous files differ from the recount:\n  %s", strings.Join(diffs, "\n  "))
	}
	var names []string
	entries, err := os.ReadDir(u.sharedDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	mounted, err := s.kubectl("get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.volumes[*].persistentVolumeClaim.claimName}{"\n"}{end}`)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(mounted, "\n") {
		if f := strings.Fields(line); slices.Contains(f[min(1, len(f)):], u.sharedClaim) {
			return fmt.Errorf("pod %s still mounts %s", f[0], u.sharedClaim)
		}
	}
	s.t.Logf("kept: PVC %s (Bound, resource-policy keep), mounted by no pod, with %v, the files at %v = the recount", u.sharedClaim, names, Offsets(files))
	return nil
}

func (u *upgrade) remove() error {
	s := u.s
	if _, err := s.k.HelmOut(s.ctx, "uninstall", s.release, "--timeout", "3m"); err != nil {
		return err
	}
	_, err := s.kubectl("delete", "namespace", s.k.Namespace, "--wait=true", "--timeout=3m")
	return err
}
