// Package observetest checks what a service serves on /metrics with
// Prometheus' own linter. For tests only: the services' binaries do not
// carry client_golang's testutil.
package observetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// lintExceptions are the problems Prometheus' linter finds in metrics this
// project does not name, by metric name suffix and problem text: franz-go's
// kprom serves two gauges named like counters. Each service's lint test
// lints everything else, its own metrics and the libraries', in full.
var lintExceptions = []struct{ suffix, text string }{
	{"_kafka_buffered_fetch_records_total", `non-counter metrics should not have "_total" suffix`},
	{"_kafka_buffered_produce_records_total", `non-counter metrics should not have "_total" suffix`},
}

// LintMetrics gathers g and runs Prometheus' own linter (client_golang's
// promlint, as testutil.GatherAndLint does) on every metric: an error lists
// each problem (a bad name, unit or help text) outside lintExceptions. An
// empty help text is one too: promlint only sees a missing one, and a
// registry always sends one.
func LintMetrics(g prometheus.Gatherer) error {
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		return err
	}
	mfs, err := g.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if strings.TrimSpace(mf.GetHelp()) == "" {
			problems = append(problems, promlint.Problem{Metric: mf.GetName(), Text: "empty help text"})
		}
	}
	return lintError(problems)
}

// LintText is LintMetrics for a /metrics response in the text format.
func LintText(text string) error {
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		return err
	}
	return lintError(problems)
}

func lintError(problems []promlint.Problem) error {
	var lines []string
	for _, p := range problems {
		if !excepted(p) {
			lines = append(lines, fmt.Sprintf("%s: %s", p.Metric, p.Text))
		}
	}
	if len(lines) > 0 {
		return fmt.Errorf("%d metric lint problems:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	return nil
}

func excepted(p promlint.Problem) bool {
	for _, e := range lintExceptions {
		if strings.HasSuffix(p.Metric, e.suffix) && p.Text == e.text {
			return true
		}
	}
	return false
}

// CheckServed lints g as LintMetrics does and checks that the service
// serves exactly wantOwn of its own metrics (those named "weather_…") and,
// of its Kafka client's (kprom's, "weather_<service>_kafka_…"), at least
// wantKafka. A name in wantOwn is the service's own even under the Kafka
// client's prefix (the dashboard's weather_dashboard_kafka_errors_total).
func CheckServed(t testing.TB, g prometheus.Gatherer, service string, wantOwn []string, wantKafka string) {
	t.Helper()
	if err := LintMetrics(g); err != nil {
		t.Error(err)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	kafkaPrefix := "weather_" + service + "_kafka_"
	var own, kafka []string
	for _, mf := range mfs {
		switch name := mf.GetName(); {
		case strings.HasPrefix(name, kafkaPrefix) && !slices.Contains(wantOwn, name):
			kafka = append(kafka, name)
		case strings.HasPrefix(name, "weather_"):
			own = append(own, name)
		}
	}
	if !slices.Equal(own, wantOwn) {
		t.Errorf("the %s's metrics:\n%s\nwant:\n%s", service, strings.Join(own, "\n"), strings.Join(wantOwn, "\n"))
	}
	if !slices.Contains(kafka, wantKafka) {
		t.Errorf("the Kafka client's metrics %v, want kprom's %s", kafka, wantKafka)
	}
}
