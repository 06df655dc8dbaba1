package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Prometheus' own series of every target, which no service serves.
var prometheusOwn = map[string]bool{"up": true}

// TestEveryMetricTheAlertsAndTheDashboardQueryIsServed: every metric the
// chart's alert rules and Grafana dashboard query is in a real scrape of the
// services, so no alert waits on a series that never comes and no panel
// stays empty. The names come from charts/monitoring (the rules and the
// dashboard parsed with Prometheus' own PromQL parser); a histogram counts
// through its _bucket, _sum and _count series.
func TestEveryMetricTheAlertsAndTheDashboardQueryIsServed(t *testing.T) {
	used := chartMetricNames(t)
	if len(used) < 20 {
		t.Fatalf("only %d metrics in the rules and the dashboard: %v", len(used), used)
	}
	served := scrapeAllServiceMetrics(t)
	for _, name := range sortedKeys(used) {
		if prometheusOwn[name] {
			continue
		}
		if family, ok := servedFamily(served, name); !ok {
			t.Errorf("%s, queried by %s, is served by no service", name, strings.Join(used[name], ", "))
		} else {
			t.Logf("%s: served (%s)", name, family)
		}
	}
}

// servedFamily is the metric family a queried series name belongs to.
func servedFamily(served map[string]bool, name string) (string, bool) {
	if served[name] {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if family, ok := strings.CutSuffix(name, suffix); ok && served[family] {
			return family, true
		}
	}
	return "", false
}

// chartMetricNames runs charts/monitoring/metricnames (a package of the
// charts module, in this workspace) on the chart: metric name -> where the
// rules and the dashboard use it.
func chartMetricNames(t *testing.T) map[string][]string {
	t.Helper()
	chart, err := filepath.Abs("../../charts/weather")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "github.com/weatherstream/weather/charts/monitoring/metricnames", "-chart", chart)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("metricnames: %v", err)
	}
	var names map[string][]string
	if err := json.Unmarshal(out, &names); err != nil {
		t.Fatalf("metricnames: %v\n%s", err, out)
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
