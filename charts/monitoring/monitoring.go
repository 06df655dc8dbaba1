// Package monitoring reads what the chart's monitoring queries: the alert
// rules (weather/files/alerts.yaml) and the Grafana dashboard
// (weather/files/dashboard.json). It parses every PromQL expression with
// Prometheus' own parser and lists the metrics they select, so that tests
// can prove each one is served (services/integration scrapes the services
// and compares, through cmd/metricnames) and that the chart renders these
// very files.
package monitoring

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	sigsyaml "sigs.k8s.io/yaml"
)

// The files, relative to the chart's directory.
const (
	AlertsFile    = "files/alerts.yaml"
	DashboardFile = "files/dashboard.json"
)

// RuleFile is a Prometheus rule file (the part the chart uses).
type RuleFile struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is one group of rules.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting or a recording rule.
type Rule struct {
	Alert         string            `json:"alert,omitempty"`
	Record        string            `json:"record,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// ReadRules reads the chart's rule file strictly: an unknown key fails.
func ReadRules(chartDir string) (*RuleFile, error) {
	data, err := os.ReadFile(filepath.Join(chartDir, AlertsFile))
	if err != nil {
		return nil, err
	}
	var f RuleFile
	if err := sigsyaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", AlertsFile, err)
	}
	return &f, nil
}

// Dashboard is the part of a Grafana dashboard's JSON model that holds
// queries: the panels (rows hold theirs when collapsed) and the variables.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel.
type Panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []Target        `json:"targets"`
	Panels     []Panel         `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// Variable is a dashboard variable; a query variable's query is a string or,
// from Grafana 10 on, an object with the string in "query".
type Variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

// ReadDashboard reads the chart's dashboard.
func ReadDashboard(chartDir string) (*Dashboard, error) {
	data, err := os.ReadFile(filepath.Join(chartDir, DashboardFile))
	if err != nil {
		return nil, err
	}
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", DashboardFile, err)
	}
	return &d, nil
}

// AllPanels returns the panels, those inside rows included.
func (d *Dashboard) AllPanels() []Panel {
	var all []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return all
}

// Query is one PromQL expression and where it is.
type Query struct {
	Where string // e.g. `alert WeatherServiceDown`, `dashboard panel "Lag" A`
	Expr  string // PromQL, Grafana's variables substituted (see Substitute)
}

// Queries returns every PromQL expression of the rules and the dashboard.
func Queries(chartDir string) ([]Query, error) {
	rules, err := ReadRules(chartDir)
	if err != nil {
		return nil, err
	}
	var qs []Query
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			qs = append(qs, Query{"alert " + cmp.Or(r.Alert, r.Record), r.Expr})
		}
	}
	d, err := ReadDashboard(chartDir)
	if err != nil {
		return nil, err
	}
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			expr, err := Substitute(t.Expr)
			if err != nil {
				return nil, fmt.Errorf("dashboard panel %q %s: %w", p.Title, t.RefID, err)
			}
			qs = append(qs, Query{fmt.Sprintf("dashboard panel %q %s", p.Title, t.RefID), expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, err := variableQuery(v.Query)
		if err != nil {
			return nil, fmt.Errorf("dashboard variable %s: %w", v.Name, err)
		}
		if q == "" {
			continue // label_values(label): no metric
		}
		qs = append(qs, Query{"dashboard variable " + v.Name, q})
	}
	return qs, nil
}

// grafanaMacros are the interval variables Grafana fills in, with a value
// of the same kind (a duration), so that the expression parses.
var grafanaMacros = map[string]string{
	"$__rate_interval": "5m",
	"$__interval":      "1m",
	"$__range":         "1h",
}

var macroRE = regexp.MustCompile(`\$__[a-z_]+|\$\{__[a-z_]+\}`)

// Substitute replaces Grafana's interval macros by durations. The
// dashboard's own variables ($namespace) stand only inside label values,
// where they parse as they are. An unknown macro is an error.
func Substitute(expr string) (string, error) {
	var err error
	out := macroRE.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.NewReplacer("{", "", "}", "").Replace(m)
		v, ok := grafanaMacros[name]
		if !ok {
			err = errors.Join(err, fmt.Errorf("unknown Grafana macro %s", m))
		}
		return v
	})
	return out, err
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*(?:,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*)?\)\s*$`)

// variableQuery returns the PromQL in a query variable: the selector of
// label_values(selector, label), "" for label_values(label).
func variableQuery(raw json.RawMessage) (string, error) {
	var q string
	if err := json.Unmarshal(raw, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("query %s: neither a string nor {query: ...}", raw)
		}
		q = obj.Query
	}
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return "", fmt.Errorf("query %q: want label_values(selector, label)", q)
	}
	if !strings.Contains(q, ",") {
		return "", nil
	}
	return m[1], nil
}

// Parse parses a query with Prometheus' parser.
func Parse(q Query) (parser.Expr, error) {
	expr, err := parser.ParseExpr(q.Expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", q.Where, err, q.Expr)
	}
	return expr, nil
}

// Selectors returns the vector selectors of an expression (those inside
// range selectors and subqueries too).
func Selectors(expr parser.Expr) []*parser.VectorSelector {
	var vs []*parser.VectorSelector
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if v, ok := n.(*parser.VectorSelector); ok {
			vs = append(vs, v)
		}
		return nil
	})
	return vs
}

// MetricName is the metric a selector selects. A selector without one, or
// with a pattern of names ({__name__=~"..."}), is an error: the tests must
// see every name to check it.
func MetricName(v *parser.VectorSelector) (string, error) {
	if v.Name != "" {
		return v.Name, nil
	}
	for _, m := range v.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value, nil
		}
	}
	return "", fmt.Errorf("selector %s names no single metric", v)
}

// MetricNames parses every query of the rules and the dashboard and returns
// each metric selected, with where it is used (sorted). Histogram series are
// named as queried (…_bucket, …_sum, …_count).
func MetricNames(chartDir string) (map[string][]string, error) {
	qs, err := Queries(chartDir)
	if err != nil {
		return nil, err
	}
	names := map[string][]string{}
	var errs error
	for _, q := range qs {
		expr, err := Parse(q)
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		for _, v := range Selectors(expr) {
			name, err := MetricName(v)
			if err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s: %w", q.Where, err))
				continue
			}
			if !slices.Contains(names[name], q.Where) {
				names[name] = append(names[name], q.Where)
			}
		}
	}
	if errs != nil {
		return nil, errs
	}
	for n := range names {
		slices.Sort(names[n])
	}
	return names, nil
}
