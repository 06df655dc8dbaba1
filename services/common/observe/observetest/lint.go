// Package observetest checks what a service serves on /metrics with
// Prometheus' own linter. For tests only: the services' binaries do not
// carry client_golang's testutil.
package observetest

import (
	"fmt"
	"strings"

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
