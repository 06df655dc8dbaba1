package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/hack/verify"
)

// TestChart installs the chart with helm on the e2e cluster and proves, with
// kubectl and an independent recount of the topic:
//   - every pod becomes ready;
//   - the partition files appear on the consumer pods' volumes (one each,
//     the StatefulSet's volumeClaimTemplates) and grow;
//   - `kubectl logs` of the debug pod shows records (the generated ones);
//   - the stats equal a recount of the topic (nothing lost, nothing counted
//     twice) — every file on every consumer volume (a partition's newest on
//     the pod that reads it, older ones a pod kept of a partition it gave
//     up) and every partition's newest snapshot (<topic>-snapshots), each
//     at its own offset — after each of: steady state; consumer pods
//     deleted mid-stream (one gracefully, one killed), which resume from
//     their checkpoints on their own volumes; the consumers scaled to zero
//     and back; scaled out by one and back, with the chart's partition
//     controller moving partitions between pods (2 -> 3 -> 1 -> 0 -> 2,
//     every assignment logged), each moved partition continuing on its new
//     pod from its snapshot (its log says so), none from offset 0; the
//     broker pod deleted, which comes back with its data while the pipeline
//     recovers;
//   - at each of those points the dashboard, read through its Service (the
//     API server's service proxy), shows every partition "ok" (its snapshot,
//     caught up with the files, Kafka's log end and the lag) and per
//     station exactly the recount's count, sum, start and end at the
//     offsets it shows; and it serves its page;
//   - `helm test` passes: the chart's test pod runs the dashboard's check
//     (every partition ok, the files advance, the lag bounded);
//   - after each delete and scale step every partition's
//     weather_consumer_lag_records is served by exactly one consumer pod
//     (read through the API server's pod proxy, as a scraper would).
//
// Environment (hack/cluster/e2e.sh sets it):
//
//	KUBECONFIG        the cluster's admin kubeconfig (required)
//	E2E_KUBECTL       kubectl binary (default: kubectl on PATH)
//	E2E_HELM          helm binary (default: helm on PATH)
//	E2E_CHART         the chart (default: <repo>/charts/weather)
//	E2E_NAMESPACE     namespace to install into (default: weather-e2e)
//	E2E_RELEASE       release name (default: weather)
//	E2E_HELM_SET      newline-separated --set values (the local images)
//	E2E_DNS           the cluster DNS, ip:port (default: kube-system/kube-dns:53)
//	E2E_SECURE_NAMESPACE  TestSecuredExternalKafka's namespace (default: weather-secure)
//	E2E_THREE_BROKERS_NAMESPACE  TestChartOnThreeBrokers' namespace (default: weather-brokers)
func TestChart(t *testing.T) {
	s := newSuite(t, env("E2E_NAMESPACE", "weather-e2e"))
	s.phase("helm install (all workloads ready: --wait)", s.install)
	s.phase("all pods ready", s.allReady)
	s.phase("partition files appear on the pods' volumes and grow", s.filesGrow)
	s.phase("stats = recount of the topic (steady state)", func() error { return s.checkStats("steady state") })
	s.phase("the dashboard serves its page and API through its Service", s.dashboardPage)
	s.phase("helm test passes (the dashboard's check: checkpoints advance, lag bounded)", s.helmTest)
	s.phase("kubectl logs of the debug pod shows records", s.debugLogs)
	s.phase("consumer pods deleted mid-stream resume from their checkpoints", s.deleteConsumers)
	s.phase("consumers scaled to 0 and back", s.scaleConsumers)
	s.phase("consumers scaled 2 -> 3 -> 1 -> 0 -> 2 (the controller reassigns partitions; moved ones restore from their snapshots)", s.scaleOut)
	s.phase("broker pod deleted: back with its data, pipeline recovers", s.deleteBroker)
	s.phase("all pods ready at the end", s.allReady)
}

// newSuite is a suite of phases on the cluster of KUBECONFIG (the test is
// skipped without one) in namespace, which prints the phases' timings at
// the end and what it finds in namespace when it fails.
func newSuite(t *testing.T, namespace string) *suite {
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("KUBECONFIG is not set: run through hack/cluster/e2e.sh (make test-e2e)")
	}
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		t.Cleanup(cancel)
	}
	s := &suite{
		t:       t,
		ctx:     ctx,
		release: env("E2E_RELEASE", "weather"),
		chart:   env("E2E_CHART", "../../../charts/weather"),
		start:   time.Now(),
	}
	s.k = Tools{
		Kubectl: env("E2E_KUBECTL", "kubectl"), Helm: env("E2E_HELM", "helm"),
		Kubeconfig: kubeconfig, Namespace: namespace, Log: t.Logf,
	}
	t.Cleanup(s.summary)
	t.Cleanup(func() {
		if t.Failed() {
			s.diagnose()
		}
	})
	return s
}

type suite struct {
	t       *testing.T
	ctx     context.Context
	k       Tools
	release string
	chart   string
	start   time.Time

	// Learned after the install.
	kafka          Kafka
	seed           uint64
	partitions     int32
	consumers      string            // the consumers' StatefulSet
	group          string            // their monitoring group (MONITORING_GROUP: committed offsets)
	claimTemplates string            // its volumeClaimTemplates' names: "stats", a volume per pod
	hostDirs       map[string]string // its pods' claims -> their PVs' directories on this host (volumes_test.go)
	replicas       int
	dashboard      string // the dashboard's Service
	dashPort       string // and its port
	httpPort       string // the consumer pods' HTTP port (/metrics)

	phases []phaseResult
}

type phaseResult struct {
	name string
	took time.Duration
	err  error
}

// phase runs one step, times it, and stops the test if it fails.
func (s *suite) phase(name string, f func() error) {
	s.t.Helper()
	s.t.Logf("=== phase: %s", name)
	start := time.Now()
	err := f()
	s.phases = append(s.phases, phaseResult{name, time.Since(start), err})
	if err != nil {
		s.t.Fatalf("phase %q failed after %s: %v", name, time.Since(start).Round(time.Millisecond), err)
	}
	s.t.Logf("--- ok (%s): %s", time.Since(start).Round(time.Millisecond), name)
}

func (s *suite) summary() {
	var b strings.Builder
	fmt.Fprintf(&b, "\ne2e summary (chart %s, release %s in namespace %s):\n", s.chart, s.release, s.k.Namespace)
	for _, p := range s.phases {
		status := "ok  "
		if p.err != nil {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %7.1fs  %s\n", status, p.took.Seconds(), p.name)
	}
	fmt.Fprintf(&b, "  total %.1fs\n", time.Since(s.start).Seconds())
	fmt.Print(b.String())
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// selector of a component's pods/workloads in this release.
func (s *suite) selector(component string) string {
	return "app.kubernetes.io/instance=" + s.release + ",app.kubernetes.io/component=" + component
}

func (s *suite) kubectl(args ...string) (string, error) { return s.k.KubectlOut(s.ctx, args...) }

// ----------------------------------------------------------------- install ---

func (s *suite) install() error {
	if err := s.freshNamespace(); err != nil {
		return err
	}
	if err := s.helmInstall(); err != nil {
		return err
	}
	if err := s.learn(); err != nil {
		return err
	}
	return s.perPodVolumes()
}

// perPodVolumes: the consumers' StatefulSet gives each pod a volume of its
// own (volumeClaimTemplates "stats"), and mounts no claim shared by pods.
func (s *suite) perPodVolumes() error {
	shared, err := s.kubectl("get", "statefulset", s.consumers, "-o",
		"jsonpath={.spec.template.spec.volumes[?(@.persistentVolumeClaim)].persistentVolumeClaim.claimName}")
	if err != nil {
		return err
	}
	if s.claimTemplates != "stats" || shared != "" {
		return fmt.Errorf("statefulset %s: volumeClaimTemplates %q and shared claims %q, want a volume per pod (stats) and none shared", s.consumers, s.claimTemplates, shared)
	}
	return nil
}

// freshNamespace deletes the test namespace, also when run again on a
// cluster kept up by hand.
func (s *suite) freshNamespace() error {
	_, err := s.kubectl("delete", "namespace", s.k.Namespace, "--ignore-not-found", "--wait=true", "--timeout=3m")
	return err
}

// helmInstall installs the release with E2E_HELM_SET (the local images) and
// then sets (key=value, which win), waiting for every workload.
func (s *suite) helmInstall(sets ...string) error {
	args := []string{"install", s.release, s.chart, "--create-namespace", "--wait", "--timeout", "10m"}
	for _, set := range append(strings.Fields(os.Getenv("E2E_HELM_SET")), sets...) {
		args = append(args, "--set", set)
	}
	_, err := s.k.HelmOut(s.ctx, args...)
	return err
}

// learn reads what the test needs to know from the installed release.
func (s *suite) learn() error {
	out, err := s.k.HelmOut(s.ctx, "get", "values", s.release, "--all", "--output", "json")
	if err != nil {
		return err
	}
	var values struct {
		Producer struct{ Seed uint64 }
		Topic    struct{ Partitions int32 }
	}
	if err := json.Unmarshal([]byte(out), &values); err != nil {
		return fmt.Errorf("helm values: %w", err)
	}
	s.seed, s.partitions = values.Producer.Seed, values.Topic.Partitions

	envOf := func(name string) (string, error) {
		return s.kubectl("get", "deployment", "-l", s.selector("producer"), "-o",
			`jsonpath={.items[0].spec.template.spec.containers[0].env[?(@.name=="`+name+`")].value}`)
	}
	if s.kafka.Bootstrap, err = envOf("KAFKA_BROKERS"); err != nil {
		return err
	}
	if s.kafka.Topic, err = envOf("TOPIC"); err != nil {
		return err
	}
	if s.kafka.DNS, err = s.clusterDNS(); err != nil {
		return err
	}

	// The consumers' StatefulSet; its pods' volumes are found as they come
	// (volumes_test.go).
	if s.consumers, err = s.kubectl("get", "statefulset", "-l", s.selector("consumer"), "-o", "jsonpath={.items[0].metadata.name}"); err != nil {
		return err
	}
	rep, err := s.kubectl("get", "statefulset", s.consumers, "-o", "jsonpath={.spec.replicas}")
	if err != nil {
		return err
	}
	if s.replicas, err = strconv.Atoi(rep); err != nil {
		return fmt.Errorf("replicas %q: %w", rep, err)
	}
	if s.claimTemplates, err = s.kubectl("get", "statefulset", s.consumers, "-o", "jsonpath={.spec.volumeClaimTemplates[*].metadata.name}"); err != nil {
		return err
	}
	// The group the consumers commit their written offsets to: its lag is
	// what they have yet to count (none in the previous chart's).
	if s.group, err = s.kubectl("get", "statefulset", s.consumers, "-o",
		`jsonpath={.spec.template.spec.containers[?(@.name=="consumer")].env[?(@.name=="MONITORING_GROUP")].value}`); err != nil {
		return err
	}
	s.hostDirs = nil

	// The dashboard's Service (the chart's default: dashboard.enabled).
	svc, err := s.kubectl("get", "service", "-l", s.selector("dashboard"), "-o",
		`jsonpath={.items[*].metadata.name} {.items[*].spec.ports[?(@.name=="http")].port}`)
	if err != nil {
		return err
	}
	f := strings.Fields(svc)
	if len(f) != 2 {
		return fmt.Errorf("dashboard services and ports %q, want one Service with a port named http", svc)
	}
	s.dashboard, s.dashPort = f[0], f[1]
	if s.httpPort, err = s.kubectl("get", "statefulset", s.consumers, "-o",
		`jsonpath={.spec.template.spec.containers[?(@.name=="consumer")].ports[?(@.name=="http")].containerPort}`); err != nil {
		return err
	}
	s.t.Logf("kafka %s (DNS %s), topic %q with %d partitions, seed %d; consumers: statefulset %s, %d replicas, claims stats-%[6]s-N; dashboard: service %[8]s port %[9]s",
		s.kafka.Bootstrap, s.kafka.DNS, s.kafka.Topic, s.partitions, s.seed, s.consumers, s.replicas, s.dashboard, s.dashPort)
	return nil
}

// clusterDNS is the address of the cluster's DNS: E2E_DNS, or CoreDNS's
// Service on port 53.
func (s *suite) clusterDNS() (string, error) {
	if dns := os.Getenv("E2E_DNS"); dns != "" {
		return dns, nil
	}
	ip, err := s.kubectl("get", "service", "kube-dns", "--namespace", "kube-system", "-o", "jsonpath={.spec.clusterIP}")
	return ip + ":53", err
}

// allReady waits until every pod of the namespace is ready (but helm
// test's, which runs to completion) and reports their restarts.
func (s *suite) allReady() error {
	if _, err := s.kubectl("wait", "--for=condition=Ready", "pod", "-l", "app.kubernetes.io/component!=test", "--timeout=5m"); err != nil {
		return err
	}
	out, err := s.kubectl("get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name}{" restarts="}{.status.containerStatuses[*].restartCount}{"\n"}{end}`)
	s.t.Logf("pods:\n%s", out)
	return err
}

// ------------------------------------------------------------------ files ---

// waitOffsets waits until every file's offset is at least min[p] (strictly
// more if strict).
func (s *suite) waitOffsets(what string, timeout time.Duration, min map[int32]int64, strict bool) error {
	var files map[int32]File
	err := Eventually(s.ctx, timeout, time.Second, func() error {
		var err error
		if files, err = s.files(); err != nil {
			return err
		}
		for p, f := range files {
			if f.Offset < min[p] || (strict && f.Offset == min[p]) {
				return fmt.Errorf("%s: partition %d at offset %d, waiting for %s%d", what, p, f.Offset, map[bool]string{true: ">", false: ">="}[strict], min[p])
			}
		}
		return nil
	})
	if err == nil {
		s.t.Logf("%s: offsets %v", what, Offsets(files))
	}
	return err
}

func (s *suite) filesGrow() error {
	var first map[int32]File
	err := Eventually(s.ctx, 3*time.Minute, time.Second, func() error {
		var err error
		first, err = s.files()
		return err
	})
	if err != nil {
		return err
	}
	claims, err := s.consumerClaims()
	if err != nil {
		return err
	}
	s.t.Logf("files present on the volumes %v: offsets %v", claims, Offsets(first))
	return s.waitOffsets("files grow", 2*time.Minute, Offsets(first), true)
}

// checkStats compares the files and the dashboard with an independent
// recount of the topic, and the topic with the producer's generated stream.
func (s *suite) checkStats(when string) error {
	// Every consumer volume's files: per partition the newest (on the pod
	// that reads it now, or last did), and the older ones a pod kept of a
	// partition it gave up — each must be the partition's state at its
	// offset all the same.
	vols, err := s.volumes()
	if err != nil {
		return err
	}
	files, where := newest(vols)
	for p := range s.partitions {
		if _, ok := files[p]; !ok {
			return fmt.Errorf("no partition-%d.json on any consumer volume (%d volumes)", p, len(vols))
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Minute)
	defer cancel()
	_, end, err := s.kafka.Offsets(ctx)
	if err != nil {
		return fmt.Errorf("topic offsets: %w", err)
	}
	topicID := files[0].Log.TopicID
	for _, v := range vols {
		for p, f := range v.files {
			if f.Offset > end[p] {
				return fmt.Errorf("%s: partition %d: file offset %d is beyond the topic's end %d", v.claim, p, f.Offset, end[p])
			}
			if f.Log.Topic != s.kafka.Topic || f.Log.Partition != p || f.Log.TopicID == "" || f.Log.TopicID != topicID {
				return fmt.Errorf("%s: partition %d: the file's log is %+v, want topic %s, ID %s, partition %d", v.claim, p, f.Log, s.kafka.Topic, topicID, p)
			}
		}
	}
	// The dashboard, once it shows a refresh after these files (its
	// snapshots are then at these offsets or later: a file only moves
	// forward, and its snapshot follows it).
	dash, err := s.dashboardView(when, files)
	if err != nil {
		return err
	}
	// The snapshot topic's newest state of every partition, read after the
	// dashboard showed them caught up: one for every partition.
	snaps, err := s.snapshots(ctx, topicID)
	if err != nil {
		return err
	}
	if len(snaps) != int(s.partitions) {
		return fmt.Errorf("%s: snapshots of partitions %v, want all %d", when, verify.SortedKeys(snaps), s.partitions)
	}
	also := []map[int32]int64{dash.Offsets(), Offsets(snaps)}
	for _, v := range vols {
		also = append(also, Offsets(v.files))
	}
	start := time.Now()
	rc, err := s.kafka.Recount(ctx, Offsets(files), s.seed, also...)
	if err != nil {
		return err
	}
	diffs := append(Compare(files, rc), rc.StreamErrors...)
	var older []string
	for _, v := range vols {
		stale := map[int32]File{}
		for p, f := range v.files {
			if where[p] != v.claim {
				stale[p] = f
				older = append(older, fmt.Sprintf("%s partition %d at %d", v.claim, p, f.Offset))
			}
		}
		diffs = append(diffs, CompareAt(v.claim+" (a partition it gave up)", stale, rc)...)
	}
	diffs = append(diffs, CompareAt(s.kafka.Topic+"-snapshots", snaps, rc)...)
	slices.Sort(older)
	s.t.Logf("%s: newest files on %v, at %v; older files %v; snapshots at %v", when, where, Offsets(files), older, Offsets(snaps))
	var total int64
	for _, p := range verify.SortedKeys(files) {
		total += rc.Records[p]
		s.t.Logf("  %s: partition %d: offset %d of %d; %d reports, %d transaction markers, %d skipped; %d stations",
			when, p, files[p].Offset, end[p], rc.Records[p], rc.Controls[p], rc.Skipped[p], len(files[p].Stations))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s: the stats differ from the recount of the topic:\n  %s", when, strings.Join(diffs, "\n  "))
	}
	s.t.Logf("%s: stats of %d reports equal the recount of the topic and the generated stream (recount %s)",
		when, total, time.Since(start).Round(time.Millisecond))
	if diffs := CompareDashboard(dash, rc); len(diffs) > 0 {
		return fmt.Errorf("%s: the dashboard's stations (view of %s, offsets %v) differ from the recount of the topic:\n  %s",
			when, dash.Stations.Time, dash.Offsets(), strings.Join(diffs, "\n  "))
	}
	var reports int64
	for _, st := range dash.Stations.Stations {
		reports += st.Count
	}
	s.t.Logf("%s: dashboard view of %s: %d stations, %d reports at offsets %v (files at %v) equal the recount",
		when, dash.Stations.Time, len(dash.Stations.Stations), reports, dash.Offsets(), Offsets(files))
	return nil
}

// dashboardView reads the dashboard's /api/v1/stations and
// /api/v1/partitions through its Service until both are of one view whose
// snapshots are caught up with files and that shows every partition of the
// topic "ok" (CheckDashboardPartitions), and returns that view. The log
// ends it shows are checked against the topic's end read after it.
func (s *suite) dashboardView(when string, files map[int32]File) (Dashboard, error) {
	topicID := files[0].Log.TopicID
	// Polled: one log line for all the requests, not one per request.
	k := s.k
	k.Log = func(string, ...any) {}
	var d Dashboard
	polls, start := 0, time.Now()
	err := Eventually(s.ctx, 2*time.Minute, time.Second, func() error {
		polls++
		stations, err := k.ServiceGet(s.ctx, s.dashboard, s.dashPort, "/api/v1/stations")
		if err != nil {
			return err
		}
		partitions, err := k.ServiceGet(s.ctx, s.dashboard, s.dashPort, "/api/v1/partitions")
		if err != nil {
			return err
		}
		if d, err = ParseDashboard(stations, partitions); err != nil {
			return err
		}
		return CheckDashboardPartitions(d, s.partitions, s.kafka.Topic, topicID, Offsets(files))
	})
	s.t.Logf("%s: $ kubectl get --raw /api/v1/namespaces/%s/services/http:%s:%s/proxy/api/v1/{stations,partitions}: %d polls in %s",
		when, s.k.Namespace, s.dashboard, s.dashPort, polls, time.Since(start).Round(time.Millisecond))
	if err != nil {
		return d, fmt.Errorf("%s: the dashboard: %w", when, err)
	}
	_, end, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return d, fmt.Errorf("topic offsets: %w", err)
	}
	var rows []string
	for _, p := range d.Partitions.Partitions {
		if *p.LogEnd > end[p.Partition] {
			return d, fmt.Errorf("%s: the dashboard shows partition %d's log end at %d, beyond the topic's end %d", when, p.Partition, *p.LogEnd, end[p.Partition])
		}
		rows = append(rows, fmt.Sprintf("%d: %s offset %d log end %d lag %d", p.Partition, p.State, *p.Offset, *p.LogEnd, *p.Lag))
	}
	s.t.Logf("%s: dashboard partitions (view of %s): %s", when, d.Partitions.Time, strings.Join(rows, "; "))
	return d, nil
}

// dashboardPage: through its Service the dashboard serves its page (the
// tables the browser fills), the page's script (live from the event
// stream) and the lag history.
func (s *suite) dashboardPage() error {
	get := func(path string) (string, error) {
		b, err := s.k.ServiceGet(s.ctx, s.dashboard, s.dashPort, path)
		return string(b), err
	}
	page, err := get("/")
	if err != nil {
		return err
	}
	for _, want := range []string{`<table id="stations"`, `<table id="partitions"`, `app.js`} {
		if !strings.Contains(page, want) {
			return fmt.Errorf("the page (%d bytes) lacks %q", len(page), want)
		}
	}
	js, err := get("/assets/app.js")
	if err != nil {
		return err
	}
	if !strings.Contains(js, "/api/v1/events") {
		return fmt.Errorf("/assets/app.js (%d bytes) does not use /api/v1/events", len(js))
	}
	lag, err := get("/api/v1/lag")
	if err != nil {
		return err
	}
	var history struct {
		Points []struct {
			Time string
			Lag  map[string]*int64
		}
	}
	if err := json.Unmarshal([]byte(lag), &history); err != nil {
		return fmt.Errorf("/api/v1/lag: %w: %.200q", err, lag)
	}
	if len(history.Points) == 0 || len(history.Points[len(history.Points)-1].Lag) != int(s.partitions) {
		return fmt.Errorf("/api/v1/lag: want points with the lag of all %d partitions: %.300q", s.partitions, lag)
	}
	last := history.Points[len(history.Points)-1]
	s.t.Logf("dashboard: page %d bytes, app.js %d bytes, /api/v1/lag %d points (last at %s: %d partitions)",
		len(page), len(js), len(history.Points), last.Time, len(last.Lag))
	return nil
}

// helmTest runs `helm test` (the chart's test pod: /dashboard check against
// the dashboard's Service) and logs what the check printed.
func (s *suite) helmTest() error {
	out, err := s.k.HelmOut(s.ctx, "test", s.release, "--logs", "--timeout", "5m")
	s.t.Logf("helm test %s:\n%s", s.release, out)
	return err
}

// lagLine is one weather_consumer_lag_records series of a /metrics page.
var lagLine = regexp.MustCompile(`^weather_consumer_lag_records\{(?:[^}]*,)?partition="(\d+)"[^}]*\} (\S+)$`)

// consumerLag reads weather_consumer_lag_records from every ready consumer
// pod's /metrics through the API server's pod proxy and logs it. Every
// partition of the topic must be there exactly once among the pods (no
// owner, or two, would be a bug), with a lag >= 0.
func (s *suite) consumerLag(when string) error {
	// A pod serves its partitions' series from its start; retried while a
	// rollout's last pods come and go.
	return Eventually(s.ctx, time.Minute, 2*time.Second, func() error {
		pods, err := s.readyPods("consumer")
		if err != nil {
			return err
		}
		if len(pods) == 0 {
			return fmt.Errorf("%s: no ready consumer pod", when)
		}
		owner := map[int32]string{}
		var rows []string
		for _, pod := range pods {
			page, err := s.k.PodGet(s.ctx, pod, s.httpPort, "/metrics")
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(page), "\n") {
				m := lagLine.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				p, _ := strconv.ParseInt(m[1], 10, 32)
				lag, err := strconv.ParseFloat(m[2], 64)
				if err != nil || lag < 0 {
					return fmt.Errorf("%s: %s: want a lag >= 0", pod, line)
				}
				if prev, dup := owner[int32(p)]; dup {
					return fmt.Errorf("partition %d: weather_consumer_lag_records from %s and %s", p, prev, pod)
				}
				owner[int32(p)] = pod
				rows = append(rows, fmt.Sprintf("%s partition %d: %g", pod, p, lag))
			}
		}
		for p := range s.partitions {
			if _, ok := owner[p]; !ok {
				return fmt.Errorf("no consumer pod of %v serves weather_consumer_lag_records for partition %d (have %v)", pods, p, rows)
			}
		}
		slices.Sort(rows)
		s.t.Logf("%s: weather_consumer_lag_records: %s", when, strings.Join(rows, "; "))
		return nil
	})
}

// ------------------------------------------------------------------ debug ---

func (s *suite) debugLogs() error {
	deploy, err := s.kubectl("get", "deployment", "-l", s.selector("debug"), "-o", "jsonpath={.items[0].metadata.name}")
	if err != nil {
		return err
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	return Eventually(s.ctx, 2*time.Minute, 2*time.Second, func() error {
		out, err := s.kubectl("logs", "deployment/"+deploy, "--tail=200")
		if err != nil {
			return err
		}
		var lines []DebugLine
		for _, line := range strings.Split(out, "\n") {
			if l, ok := ParseDebugLine(line); ok {
				lines = append(lines, l)
			}
		}
		if len(lines) < 20 {
			return fmt.Errorf("%d report lines in the debug pod's log, want 20+", len(lines))
		}
		for _, l := range lines {
			if err := CheckDebugLine(l, s.seed); err != nil {
				return fmt.Errorf("debug printed a report that is not in the stream: %w", err)
			}
			if _, ok := files[l.Partition].Stations[l.Station]; !ok {
				return fmt.Errorf("debug printed %s in partition %d, whose stats have no such station", l.Station, l.Partition)
			}
		}
		s.t.Logf("debug pod printed %d report lines (checked against the stream), e.g. %+v", len(lines), lines[len(lines)-1])
		return nil
	})
}

// -------------------------------------------------------------- consumers ---

func (s *suite) podNames(component string) ([]string, error) {
	out, err := s.kubectl("get", "pods", "-l", s.selector(component), "-o", "jsonpath={.items[*].metadata.name}")
	names := strings.Fields(out)
	slices.Sort(names)
	return names, err
}

// readyPods: the component's pods that are ready and not being deleted.
func (s *suite) readyPods(component string) ([]string, error) {
	out, err := s.kubectl("get", "pods", "-l", s.selector(component), "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\n"}{end}`)
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "True" {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names, err
}

func (s *suite) podUID(name string) (string, error) {
	return s.kubectl("get", "pod", name, "-o", "jsonpath={.metadata.uid}")
}

func (s *suite) deleteConsumers() error {
	pods, err := s.podNames("consumer")
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return errors.New("no consumer pods")
	}
	before, err := s.files()
	if err != nil {
		return err
	}
	uids := map[string]string{}
	for _, p := range pods {
		if uids[p], err = s.podUID(p); err != nil {
			return err
		}
	}
	s.t.Logf("offsets before: %v", Offsets(before))
	// One pod the usual way (SIGTERM: it checkpoints the batch in hand), the
	// other killed outright (SIGKILL: the last checkpoint is all there is).
	if _, err := s.kubectl("delete", "pod", pods[0], "--wait=true", "--timeout=2m"); err != nil {
		return err
	}
	if len(pods) > 1 {
		if _, err := s.kubectl("delete", "pod", pods[1], "--grace-period=0", "--force", "--wait=true", "--timeout=2m"); err != nil {
			return err
		}
	}
	if _, err := s.kubectl("rollout", "status", "statefulset/"+s.consumers, "--timeout=3m"); err != nil {
		return err
	}
	if err := s.waitNewPods(pods, uids); err != nil {
		return err
	}

	// Each partition was picked up where its checkpoint on the pod's own
	// volume (same ordinal, same claim) left it, or its snapshot if newer:
	// never before the offset it had before the deletion, never from
	// scratch.
	assignment, err := s.assignment()
	if err != nil {
		return err
	}
	ordinals := owners(assignment)
	resumed := map[int32]int64{}
	for i, pod := range pods[:min(2, len(pods))] {
		var mine []int32
		for p, o := range ordinals {
			if fmt.Sprintf("%s-%d", s.consumers, o) == pod {
				mine = append(mine, p)
			}
		}
		slices.Sort(mine)
		got, err := s.starts(pod, mine)
		if err != nil {
			return err
		}
		how := [2]string{"deleted", "force-deleted"}[i]
		for _, p := range mine {
			st := got[p]
			resumed[p] = st.offset
			s.t.Logf("%s (%s) continued partition %d from its %s at offset %d (before the deletion: %d)", pod, how, p, st.from, st.offset, before[p].Offset)
			switch {
			case st.from == "log start":
				return fmt.Errorf("%s counted partition %d again from offset 0", pod, p)
			case st.offset < before[p].Offset:
				return fmt.Errorf("%s resumed partition %d at %d, before its checkpoint %d", pod, p, st.offset, before[p].Offset)
			}
		}
	}
	if len(pods) <= 2 && len(resumed) != int(s.partitions) {
		return fmt.Errorf("resumed partitions %v, want all %d", resumed, s.partitions)
	}
	if err := s.waitOffsets("consuming again", 2*time.Minute, resumed, true); err != nil {
		return err
	}
	if err := s.consumerLag("after the consumer pods were deleted"); err != nil {
		return err
	}
	return s.checkStats("after the consumer pods were deleted")
}

// waitNewPods waits until each of pods is a new pod (another UID) and ready.
func (s *suite) waitNewPods(pods []string, old map[string]string) error {
	for _, p := range pods {
		err := Eventually(s.ctx, 5*time.Minute, time.Second, func() error {
			uid, err := s.podUID(p)
			if err != nil {
				return err
			}
			if uid == old[p] {
				return fmt.Errorf("pod %s not replaced yet", p)
			}
			ready, err := s.kubectl("get", "pod", p, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if err != nil {
				return err
			}
			if ready != "True" {
				return fmt.Errorf("new pod %s not ready", p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *suite) scaleConsumers() error {
	if _, err := s.kubectl("scale", "statefulset/"+s.consumers, "--replicas=0"); err != nil {
		return err
	}
	err := Eventually(s.ctx, 3*time.Minute, time.Second, func() error {
		pods, err := s.podNames("consumer")
		if err == nil && len(pods) > 0 {
			err = fmt.Errorf("consumer pods still there: %v", pods)
		}
		return err
	})
	if err != nil {
		return err
	}
	// Nobody writes the files now; give the producer time to run ahead.
	stopped, err := s.files()
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	still, err := s.files()
	if err != nil {
		return err
	}
	if !maps.Equal(Offsets(stopped), Offsets(still)) {
		return fmt.Errorf("files changed with no consumers: %v, then %v", Offsets(stopped), Offsets(still))
	}
	if err := s.checkStats("scaled to zero"); err != nil {
		return err
	}
	_, end, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return err
	}
	s.t.Logf("backlog while scaled to zero: files at %v, topic at %v", Offsets(still), end)

	if _, err := s.kubectl("scale", "statefulset/"+s.consumers, "--replicas="+strconv.Itoa(s.replicas)); err != nil {
		return err
	}
	if _, err := s.kubectl("rollout", "status", "statefulset/"+s.consumers, "--timeout=3m"); err != nil {
		return err
	}
	if err := s.waitOffsets("backlog consumed", 3*time.Minute, end, false); err != nil {
		return err
	}
	if err := s.consumerLag("scaled back to " + strconv.Itoa(s.replicas)); err != nil {
		return err
	}
	return s.checkStats("scaled back to " + strconv.Itoa(s.replicas))
}

// scaleOut scales the consumers 2 -> 3 -> 1 -> 0 -> 2 (from the chart's
// replica count up by one, down to one, to zero and back) while the producer
// runs. With the chart's partition controller (controller.enabled) the
// partitions follow in rollouts — every assignment it writes is logged —
// without it extra pods idle as spares. After each step the stats equal a
// recount of the topic.
func (s *suite) scaleOut() error {
	for _, n := range []int{s.replicas + 1, 1, 0, s.replicas} {
		before, err := s.assignment()
		if err != nil {
			return err
		}
		at, err := s.files()
		if err != nil {
			return err
		}
		if _, err := s.kubectl("scale", "statefulset/"+s.consumers, "--replicas="+strconv.Itoa(n)); err != nil {
			return err
		}
		assignment, err := s.settle(n)
		if err != nil {
			return err
		}
		s.t.Logf("%d consumers settled, partitions by ordinal %q", n, assignment)
		if n > 0 {
			// A partition that moved to another pod (another volume)
			// continued there from its snapshot, none from offset 0.
			if err := s.checkMoved("scaled to "+strconv.Itoa(n), before, assignment, Offsets(at)); err != nil {
				return err
			}
			if err := s.consumerLag("scaled to " + strconv.Itoa(n)); err != nil {
				return err
			}
			_, end, err := s.kafka.Offsets(s.ctx)
			if err != nil {
				return err
			}
			if err := s.waitOffsets("consuming with "+strconv.Itoa(n)+" pods", 3*time.Minute, end, false); err != nil {
				return err
			}
		}
		if err := s.checkStats("scaled to " + strconv.Itoa(n)); err != nil {
			return err
		}
	}
	return nil
}

// assignment is the consumer StatefulSet's PARTITIONS_BY_ORDINAL.
func (s *suite) assignment() (string, error) {
	return s.kubectl("get", "statefulset", s.consumers, "-o",
		`jsonpath={.spec.template.spec.containers[?(@.name=="consumer")].env[?(@.name=="PARTITIONS_BY_ORDINAL")].value}`)
}

// settle waits until the consumer StatefulSet runs n ready pods of its
// latest template and, if the partition controller manages it, the
// controller has reached its target assignment. It returns the assignment.
func (s *suite) settle(n int) (string, error) {
	var assignment string
	var seen []string // every assignment the template had while settling
	defer func() { s.t.Logf("scale to %d: assignments seen %q", n, seen) }()
	err := Eventually(s.ctx, 5*time.Minute, time.Second, func() error {
		sts, err := s.consumerSet(s.ctx)
		if err != nil {
			return err
		}
		assignment = sts.assignment()
		if len(seen) == 0 || seen[len(seen)-1] != assignment {
			seen = append(seen, assignment)
		}
		st := sts.Status
		// At zero replicas the controller has nothing to do: the template
		// keeps the last assignment for the next scale-up.
		managed := sts.Metadata.Labels["weather.io/partition-controller"] == "enabled" && n > 0
		switch want := evenAssignment(max(n, 1), int(s.partitions)); {
		case !sts.rolledOut():
			return fmt.Errorf("statefulset %s: rollout in progress", s.consumers)
		case st.ReadyReplicas != n || st.UpdatedReplicas != n:
			return fmt.Errorf("statefulset %s: %d ready, %d updated, want %d", s.consumers, st.ReadyReplicas, st.UpdatedReplicas, n)
		case managed && assignment != want:
			return fmt.Errorf("statefulset %s: partitions by ordinal %q, want %q from the partition controller", s.consumers, assignment, want)
		}
		return nil
	})
	return assignment, err
}

// consumerSet is the consumers' StatefulSet as the API server has it: what
// settle and the samples of the consumers (consumersNow) read.
type consumerSet struct {
	Metadata struct {
		Generation  int64
		Labels      map[string]string
		Annotations map[string]string
	}
	Spec struct {
		Replicas int
		Template struct {
			Spec struct {
				Containers []struct {
					Name string
					Env  []struct{ Name, Value string }
				}
			}
		}
	}
	Status struct {
		ObservedGeneration              int64
		ReadyReplicas, UpdatedReplicas  int
		CurrentRevision, UpdateRevision string
	}
}

// consumerSet reads the consumers' StatefulSet (quietly: it is polled).
func (s *suite) consumerSet(ctx context.Context) (consumerSet, error) {
	k := s.k
	k.Log = func(string, ...any) {}
	var sts consumerSet
	out, err := k.KubectlOut(ctx, "get", "statefulset", s.consumers, "-o", "json")
	if err == nil {
		err = json.Unmarshal([]byte(out), &sts)
	}
	return sts, err
}

// assignment is the consumer container's PARTITIONS_BY_ORDINAL.
func (c consumerSet) assignment() string {
	for _, ct := range c.Spec.Template.Spec.Containers {
		for _, e := range ct.Env {
			if ct.Name == "consumer" && e.Name == "PARTITIONS_BY_ORDINAL" {
				return e.Value
			}
		}
	}
	return ""
}

// rolledOut: every pod runs the latest template the controller has seen.
func (c consumerSet) rolledOut() bool {
	return c.Status.ObservedGeneration >= c.Metadata.Generation && c.Status.CurrentRevision == c.Status.UpdateRevision
}

// consumersNow is what the consumers' StatefulSet, their monitoring group
// and the topic said at one time: the sample the tests poll to time what
// the consumers do (a node's failover, scaling on lag).
type consumersNow struct {
	at             time.Time
	sts            consumerSet
	committed, end map[int32]int64 // per partition: the group's committed offset, the log end
}

// lag is the total lag of the monitoring group, as KEDA's Kafka scaler
// reads it: per partition the log end minus the committed offset (none
// committed: from offset 0, the log start here).
func (c consumersNow) lag() int64 {
	var lag int64
	for p, end := range c.end {
		lag += end - c.committed[p]
	}
	return lag
}

// consumersNow samples the consumers: the StatefulSet, then the monitoring
// group's committed offsets and the topic's ends through adm.
func (s *suite) consumersNow(ctx context.Context, adm *kadm.Client) (consumersNow, error) {
	now := consumersNow{at: time.Now(), committed: map[int32]int64{}, end: map[int32]int64{}}
	if s.group == "" {
		return now, fmt.Errorf("statefulset %s: no MONITORING_GROUP", s.consumers)
	}
	var err error
	if now.sts, err = s.consumerSet(ctx); err != nil {
		return now, err
	}
	ends, err := adm.ListEndOffsets(ctx, s.kafka.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return now, err
	}
	ends.Each(func(o kadm.ListedOffset) { now.end[o.Partition] = o.Offset })
	committed, err := adm.FetchOffsets(ctx, s.group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return now, err
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Topic == s.kafka.Topic {
			now.committed[o.Partition] = o.At
		}
	})
	return now, nil
}

// evenAssignment is the partition controller's documented target: partition
// p to ordinal p % replicas, as PARTITIONS_BY_ORDINAL ("0,3;1;2").
func evenAssignment(replicas, partitions int) string {
	lists := make([][]string, min(replicas, partitions))
	for p := range partitions {
		lists[p%replicas] = append(lists[p%replicas], strconv.Itoa(p))
	}
	entries := make([]string, len(lists))
	for i, l := range lists {
		entries[i] = strings.Join(l, ",")
	}
	return strings.Join(entries, ";")
}

// ----------------------------------------------------------------- broker ---

// brokerLog is what says which log a broker runs on: its log directory's
// meta.properties (cluster.id, node.id and directory.id, a random UUID
// written when the directory is formatted), read both in the pod (log.dirs)
// and in the claim's data/ directory on this host, and the topic's ID.
type brokerLog struct {
	meta, onClaim, topicID string
}

// kafkaLogDir is the chart's log.dirs, the official image's VOLUME of the
// log (hack/images/upstream/apache-kafka.json).
const kafkaLogDir = "/var/lib/kafka/data"

func (s *suite) brokerLog(pod string) (brokerLog, error) {
	var l brokerLog
	var err error
	meta, err := s.kubectl("exec", pod, "-c", "kafka", "--", "cat", kafkaLogDir+"/meta.properties")
	if err != nil {
		return l, err
	}
	l.meta = properties(meta)
	claim, err := s.kubectl("get", "pod", pod, "-o", `jsonpath={.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}`)
	if err != nil {
		return l, err
	}
	pv, err := s.kubectl("get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
	if err != nil {
		return l, err
	}
	dir, err := s.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}{.spec.local.path}")
	if err != nil {
		return l, err
	}
	if dir == "" {
		return l, fmt.Errorf("PV %s of PVC %s is neither hostPath nor local", pv, claim)
	}
	data, err := os.ReadFile(filepath.Join(dir, "data", "meta.properties"))
	if err != nil {
		return l, fmt.Errorf("the log is not on the claim %s: %w", claim, err)
	}
	l.onClaim = properties(string(data))
	l.topicID, err = s.kafka.TopicID(s.ctx)
	return l, err
}

// properties is a Java properties file's entries, sorted, one per line,
// without its comments (Properties.store writes the time in one).
func properties(file string) string {
	var entries []string
	for _, line := range strings.Split(file, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			entries = append(entries, line)
		}
	}
	slices.Sort(entries)
	return strings.Join(entries, "\n")
}

func (s *suite) deleteBroker() error {
	pods, err := s.podNames("kafka")
	if err != nil {
		return err
	}
	if len(pods) != 1 {
		return fmt.Errorf("kafka pods %v, want one", pods)
	}
	uid, err := s.podUID(pods[0])
	if err != nil {
		return err
	}
	// The broker's log directory is the claim's data/: the same
	// meta.properties in the pod and on the volume. (With the claim at
	// /var/lib/kafka, the image's VOLUME /var/lib/kafka/data would have
	// put the log in a directory of the container's own, and the claim's
	// data/ would be empty.)
	log0, err := s.brokerLog(pods[0])
	if err != nil {
		return err
	}
	if log0.meta != log0.onClaim || !strings.Contains(log0.meta, "directory.id=") {
		return fmt.Errorf("the broker's %s/meta.properties is not the claim's data/meta.properties:\npod:\n%s\nclaim:\n%s", kafkaLogDir, log0.meta, log0.onClaim)
	}
	start0, end0, err := s.kafka.Offsets(s.ctx)
	if err != nil {
		return err
	}
	s.t.Logf("topic before: ID %s, start %v, end %v; log directory on the claim: %s", log0.topicID, start0, end0,
		strings.ReplaceAll(log0.meta, "\n", " "))

	if _, err := s.kubectl("delete", "pod", pods[0], "--wait=true", "--timeout=3m"); err != nil {
		return err
	}
	if err := s.waitNewPods(pods, map[string]string{pods[0]: uid}); err != nil {
		return err
	}

	// Back with its data: the same log start, and at least the same end.
	var start1, end1 map[int32]int64
	err = Eventually(s.ctx, 3*time.Minute, 2*time.Second, func() error {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		var err error
		start1, end1, err = s.kafka.Offsets(ctx)
		return err
	})
	if err != nil {
		return err
	}
	s.t.Logf("topic after: start %v, end %v", start1, end1)
	for p, e := range end0 {
		if start1[p] != start0[p] || end1[p] < e {
			return fmt.Errorf("partition %d: log was [%d, %d) before the restart, [%d, %d) after: data lost",
				p, start0[p], e, start1[p], end1[p])
		}
	}
	// The same log, not one formatted afresh: the same directory.id (and
	// cluster and node id) in the new pod and on the claim, the same topic.
	newPods, err := s.podNames("kafka")
	if err != nil {
		return err
	}
	if len(newPods) != 1 {
		return fmt.Errorf("kafka pods %v after the delete, want one", newPods)
	}
	log1, err := s.brokerLog(newPods[0])
	if err != nil {
		return err
	}
	if log1 != log0 {
		return fmt.Errorf("the broker came back on another log: before %+v, after %+v", log0, log1)
	}
	s.t.Logf("the same log: topic ID %s, %s", log1.topicID, strings.ReplaceAll(log1.meta, "\n", " "))

	// The pipeline recovers: new reports are produced and consumed past
	// everything that existed before the restart.
	if err := s.waitOffsets("consumed past the pre-restart end", 5*time.Minute, end0, true); err != nil {
		return err
	}
	if err := s.allReady(); err != nil {
		return err
	}
	return s.checkStats("after the broker pod was deleted")
}

// ------------------------------------------------------------ diagnostics ---

// diagnose prints what a person needs to see why a run failed.
func (s *suite) diagnose() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := s.k
	k.Log = func(string, ...any) {}
	show := func(args ...string) {
		out, err := k.KubectlOut(ctx, args...)
		if err != nil {
			out += "\n" + err.Error()
		}
		fmt.Printf("\n----- kubectl %s\n%s\n", strings.Join(args, " "), out)
	}
	show("get", "all,pvc,pv", "-o", "wide")
	show("get", "events", "--sort-by=.lastTimestamp")
	show("describe", "pods")
	pods, _ := k.KubectlOut(ctx, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}")
	for _, p := range strings.Fields(pods) {
		show("logs", p, "--all-containers", "--tail=80")
		show("logs", p, "--all-containers", "--tail=80", "--previous")
	}
	s.dumpVolumes()
}
