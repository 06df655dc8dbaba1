package monitoring

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeChart writes a chart directory with these rule and dashboard files.
func writeChart(t *testing.T, alerts, dashboard string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{AlertsFile: alerts, DashboardFile: dashboard} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const okAlerts = `
groups:
  - name: g
    rules:
      - alert: A
        expr: sum by (pod) (rate(a_total[5m])) > 0 unless on (pod) b == 1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.pod }}"}
`

func dashboardWith(panelExprs, variableQuery string) string {
	return `{"uid": "u", "title": "t", "panels": [
  {"id": 1, "type": "row", "title": "r", "panels": [
    {"id": 2, "type": "timeseries", "title": "nested", "targets": [{"refId": "A", "expr": "max(c{ns=\"$namespace\"})"}]}]},
  {"id": 3, "type": "timeseries", "title": "p", "targets": [{"refId": "A", "expr": ` + panelExprs + `}]}],
 "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"},
   {"name": "namespace", "type": "query", "query": ` + variableQuery + `}]}}`
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		name      string
		alerts    string
		dashboard string
		want      map[string][]string
		wantErr   string
	}{
		{name: "rules, panels in and out of rows, a variable, Grafana's macros",
			alerts: okAlerts,
			dashboard: dashboardWith(`"histogram_quantile(0.99, sum by (le) (rate(h_bucket{ns=\"$namespace\"}[$__rate_interval]))) / ignoring(x) max_over_time(g[${__range}:$__interval])"`,
				`{"query": "label_values(v_info{x=\"1\", y=\"2\"}, namespace)", "refId": "x"}`),
			want: map[string][]string{
				"a_total":  {"alert A"},
				"b":        {"alert A"},
				"c":        {`dashboard panel "nested" A`},
				"h_bucket": {`dashboard panel "p" A`},
				"g":        {`dashboard panel "p" A`},
				"v_info":   {"dashboard variable namespace"},
			}},
		{name: "a variable query as a string, and of a label only",
			alerts:    okAlerts,
			dashboard: dashboardWith(`"{__name__=\"e\", ns=\"$namespace\"}"`, `"label_values(namespace)"`),
			want:      map[string][]string{"a_total": {"alert A"}, "b": {"alert A"}, "c": {`dashboard panel "nested" A`}, "e": {`dashboard panel "p" A`}}},
		{name: "a pattern of names hides what is queried", alerts: okAlerts,
			dashboard: dashboardWith(`"sum(rate({__name__=~\"weather_.*_total\"}[5m]))"`, `"label_values(namespace)"`),
			wantErr:   "names no single metric"},
		{name: "a macro Grafana does not have", alerts: okAlerts,
			dashboard: dashboardWith(`"rate(x[$__rate_intervals])"`, `"label_values(namespace)"`),
			wantErr:   "unknown Grafana macro $__rate_intervals"},
		{name: "a rule that does not parse", alerts: strings.Replace(okAlerts, "> 0 unless", "> > 0 unless", 1),
			dashboard: dashboardWith(`"x"`, `"label_values(namespace)"`),
			wantErr:   "alert A: 1:"},
		{name: "an unknown key in the rules", alerts: strings.Replace(okAlerts, "for: 5m", "fro: 5m", 1),
			dashboard: dashboardWith(`"x"`, `"label_values(namespace)"`),
			wantErr:   `unknown field "fro"`},
		{name: "a variable query that is no label_values", alerts: okAlerts,
			dashboard: dashboardWith(`"x"`, `"query_result(up)"`),
			wantErr:   "want label_values(selector, label)"},
		{name: "a dashboard that is no JSON", alerts: okAlerts, dashboard: `{"panels": [}`, wantErr: DashboardFile},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := MetricNames(writeChart(t, c.alerts, c.dashboard))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("names\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	for _, c := range []struct{ in, want, wantErr string }{
		{`rate(x[$__rate_interval])`, `rate(x[5m])`, ""},
		{`max_over_time(x[${__range}:$__interval])`, `max_over_time(x[1h:1m])`, ""},
		{`x{ns="$namespace", p=~"${partition}"}`, `x{ns="$namespace", p=~"${partition}"}`, ""},
		{`x[$__range_s]`, "", "unknown Grafana macro $__range_s"},
	} {
		got, err := Substitute(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Substitute(%q): error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Substitute(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
