package charts

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/model/labels"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weatherstream/weather/charts/monitoring"
)

// monitoringScheme knows the Kubernetes types and the Prometheus Operator's
// (monitoring.coreos.com/v1), for the monitoring objects' strict decoding.
var monitoringScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), monitoringv1.AddToScheme(s)); err != nil {
		panic(err)
	}
	return s
}()

var monitoringDecoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, monitoringScheme, monitoringScheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// renderMonitoring renders the chart and decodes every object strictly,
// the Prometheus Operator's kinds too.
func renderMonitoring(t *testing.T, release, values string) []client.Object {
	t.Helper()
	files, err := renderChart(t, release, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var objs []client.Object
	for _, o := range decodeObjects(t, monitoringDecoder, objectDocs(t, files)) {
		objs = append(objs, o.obj)
	}
	return objs
}

func monitoringKind(o client.Object) string {
	gvks, _, err := monitoringScheme.ObjectKinds(o)
	if err != nil || len(gvks) == 0 {
		return fmt.Sprintf("%T", o)
	}
	return gvks[0].Kind
}

func findObject[T client.Object](objs []client.Object, name string) (T, bool) {
	for _, o := range objs {
		if x, ok := o.(T); ok && o.GetName() == name {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// Every object the monitoring values can add, by kind/name (%s: the
// release's fullname).
var monitoringObjects = []string{
	"ServiceMonitor/%s", "PodMonitor/%s", "PrometheusRule/%s", "ConfigMap/%s-grafana",
	"Service/%s-producer", "Service/%s-debug", "Service/%s-controller",
}

// The service workloads and the variable of the address their /metrics is on.
var metricsAddrEnv = map[string]string{
	"producer": "HTTP_ADDR", "consumer": "HTTP_ADDR", "debug": "HTTP_ADDR", "dashboard": "HTTP_ADDR", "controller": "METRICS_ADDR",
}

// TestMonitoringObjects renders the chart with each monitoring value on and
// off: its objects are there exactly when asked for, decode strictly into
// the Prometheus Operator's Go types, and the monitors select every service's
// pods of this release (through a Service, or directly) on the port its
// /metrics is served on, and Kafka's not; the PrometheusRule holds exactly
// files/alerts.yaml (what promtool tests) with the values' changes, the
// ConfigMap exactly files/dashboard.json.
func TestMonitoringObjects(t *testing.T) {
	for _, c := range []struct {
		name    string
		release string // default weather
		values  string
		want    []string // of monitoringObjects
		check   func(t *testing.T, objs []client.Object)
	}{
		{name: "off by default", values: ``},
		{name: "service monitor", values: `metrics: {serviceMonitor: {enabled: true}}`,
			want: []string{"ServiceMonitor/%s", "Service/%s-producer", "Service/%s-debug", "Service/%s-controller"},
			check: func(t *testing.T, objs []client.Object) {
				sm, _ := findObject[*monitoringv1.ServiceMonitor](objs, "weather")
				checkServiceMonitor(t, objs, sm)
				checkEndpoint(t, sm.Spec.Endpoints[0].Port, sm.Spec.Endpoints[0].Path, sm.Spec.Endpoints[0].Interval, "30s",
					sm.Spec.Endpoints[0].RelabelConfigs, 0)
			}},
		{name: "service monitor without the debug consumer and the controller", values: `{debug: {enabled: false}, controller: {enabled: false}, metrics: {serviceMonitor: {enabled: true}}}`,
			want: []string{"ServiceMonitor/%s", "Service/%s-producer"},
			check: func(t *testing.T, objs []client.Object) {
				sm, _ := findObject[*monitoringv1.ServiceMonitor](objs, "weather")
				checkServiceMonitor(t, objs, sm)
			}},
		{name: "service monitor options", values: `
metrics:
  serviceMonitor:
    enabled: true
    namespace: monitoring
    labels: {release: kube-prometheus-stack}
    interval: 15s
    scrapeTimeout: 5s
    honorLabels: true
    relabelings: [{action: labeldrop, regex: container}]
    metricRelabelings: [{action: drop, sourceLabels: [__name__], regex: go_.*}]
`, want: []string{"ServiceMonitor/%s", "Service/%s-producer", "Service/%s-debug", "Service/%s-controller"},
			check: func(t *testing.T, objs []client.Object) {
				sm, _ := findObject[*monitoringv1.ServiceMonitor](objs, "weather")
				checkServiceMonitor(t, objs, sm)
				if sm.Namespace != "monitoring" || sm.Labels["release"] != "kube-prometheus-stack" {
					t.Errorf("namespace %q labels %v, want monitoring and release: kube-prometheus-stack", sm.Namespace, sm.Labels)
				}
				e := sm.Spec.Endpoints[0]
				checkEndpoint(t, e.Port, e.Path, e.Interval, "15s", e.RelabelConfigs, 1)
				if e.ScrapeTimeout != "5s" || !e.HonorLabels || len(e.MetricRelabelConfigs) != 1 || e.MetricRelabelConfigs[0].Regex != "go_.*" {
					t.Errorf("endpoint %+v: want scrapeTimeout 5s, honorLabels, the metric relabeling", e)
				}
				if got := e.RelabelConfigs[2]; got.Action != "labeldrop" || got.Regex != "container" {
					t.Errorf("own relabeling %+v, want the value's after the chart's", got)
				}
			}},
		{name: "service monitor of another release", release: "demo", values: `metrics: {serviceMonitor: {enabled: true}}`,
			want: []string{"ServiceMonitor/%s", "Service/%s-producer", "Service/%s-debug", "Service/%s-controller"},
			check: func(t *testing.T, objs []client.Object) {
				sm, _ := findObject[*monitoringv1.ServiceMonitor](objs, "demo-weather")
				checkServiceMonitor(t, objs, sm)
			}},
		{name: "pod monitor of another release", release: "demo", values: `metrics: {podMonitor: {enabled: true}}`,
			want: []string{"PodMonitor/%s"},
			check: func(t *testing.T, objs []client.Object) {
				pm, _ := findObject[*monitoringv1.PodMonitor](objs, "demo-weather")
				checkPodMonitor(t, objs, pm)
			}},
		{name: "pod monitor", values: `metrics: {podMonitor: {enabled: true, interval: ""}}`,
			want: []string{"PodMonitor/%s"},
			check: func(t *testing.T, objs []client.Object) {
				pm, _ := findObject[*monitoringv1.PodMonitor](objs, "weather")
				checkPodMonitor(t, objs, pm)
				e := pm.Spec.PodMetricsEndpoints[0]
				if e.Port == nil {
					t.Fatal("podMetricsEndpoint without a port")
				}
				checkEndpoint(t, *e.Port, e.Path, e.Interval, "", e.RelabelConfigs, 0)
			}},
		{name: "prometheus rule", values: `metrics: {prometheusRule: {enabled: true}}`,
			want: []string{"PrometheusRule/%s"},
			check: func(t *testing.T, objs []client.Object) {
				pr, _ := findObject[*monitoringv1.PrometheusRule](objs, "weather")
				// Exactly the file promtool tests.
				if got, want := ruleGroups(t, pr), fileRuleGroups(t); !reflect.DeepEqual(got, want) {
					t.Errorf("PrometheusRule groups are not files/alerts.yaml's:\n got %+v\nwant %+v", got, want)
				}
			}},
		{name: "prometheus rule options", values: `
metrics:
  prometheusRule:
    enabled: true
    namespace: monitoring
    labels: {release: kube-prometheus-stack}
    ruleLabels: {team: data, severity: page}
    disabledAlerts: [WeatherRecordsSkipped]
    runbookBaseURL: https://wiki.example.com/weather/
    extraRuleGroups: [{name: mine, rules: [{alert: Mine, expr: vector(1)}]}]
`, want: []string{"PrometheusRule/%s"},
			check: func(t *testing.T, objs []client.Object) {
				pr, _ := findObject[*monitoringv1.PrometheusRule](objs, "weather")
				if pr.Namespace != "monitoring" || pr.Labels["release"] != "kube-prometheus-stack" {
					t.Errorf("namespace %q labels %v", pr.Namespace, pr.Labels)
				}
				want := fileRuleGroups(t)
				for gi := range want {
					var rules []monitoring.Rule
					for _, r := range want[gi].Rules {
						if r.Alert == "WeatherRecordsSkipped" {
							continue
						}
						r.Labels = maps.Clone(r.Labels)
						r.Labels["team"] = "data" // severity: the alert's own wins
						r.Annotations = maps.Clone(r.Annotations)
						_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
						r.Annotations["runbook_url"] = "https://wiki.example.com/weather#" + anchor
						rules = append(rules, r)
					}
					want[gi].Rules = rules
				}
				want = append(want, monitoring.RuleGroup{Name: "mine", Rules: []monitoring.Rule{{Alert: "Mine", Expr: "vector(1)"}}})
				if got := ruleGroups(t, pr); !reflect.DeepEqual(got, want) {
					t.Errorf("PrometheusRule groups\n got %+v\nwant %+v", got, want)
				}
			}},
		{name: "grafana dashboard", values: `metrics: {grafanaDashboard: {enabled: true}}`,
			want: []string{"ConfigMap/%s-grafana"},
			check: func(t *testing.T, objs []client.Object) {
				cm, _ := findObject[*corev1.ConfigMap](objs, "weather-grafana")
				checkDashboardConfigMap(t, cm, map[string]string{"grafana_dashboard": "1"})
				if cm.Namespace != "" || len(cm.Annotations) != 0 {
					t.Errorf("namespace %q annotations %v, want none", cm.Namespace, cm.Annotations)
				}
			}},
		{name: "grafana dashboard options", values: `metrics: {grafanaDashboard: {enabled: true, namespace: grafana, labels: {grafana_dashboard: "yes", team: data}, annotations: {grafana_folder: Kafka}}}`,
			want: []string{"ConfigMap/%s-grafana"},
			check: func(t *testing.T, objs []client.Object) {
				cm, _ := findObject[*corev1.ConfigMap](objs, "weather-grafana")
				checkDashboardConfigMap(t, cm, map[string]string{"grafana_dashboard": "yes", "team": "data"})
				if cm.Namespace != "grafana" || cm.Annotations["grafana_folder"] != "Kafka" {
					t.Errorf("namespace %q annotations %v", cm.Namespace, cm.Annotations)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			release, fullname := cmp.Or(c.release, "weather"), cmp.Or(c.release, "weather")
			if !strings.Contains(release, "weather") {
				fullname = release + "-weather"
			}
			objs := renderMonitoring(t, release, c.values)
			have := map[string]bool{}
			for _, o := range objs {
				have[monitoringKind(o)+"/"+o.GetName()] = true
			}
			ids := map[string]bool{}
			for _, pattern := range monitoringObjects {
				id := fmt.Sprintf(pattern, fullname)
				ids[id] = true
				if want := slices.Contains(c.want, pattern); have[id] != want {
					t.Errorf("%s rendered: %v, want %v", id, have[id], want)
				}
			}
			for _, o := range objs {
				if monitoringKind(o) == "Service" || !ids[monitoringKind(o)+"/"+o.GetName()] {
					continue
				}
				if got := o.GetLabels()["app.kubernetes.io/component"]; got != "metrics" {
					t.Errorf("%s/%s: component %q, want metrics", monitoringKind(o), o.GetName(), got)
				}
			}
			if c.check != nil {
				c.check(t, objs)
			}
		})
	}
}

// TestMonitoringBadValues: values the chart refuses, each with its error.
func TestMonitoringBadValues(t *testing.T) {
	for _, c := range []struct{ name, values, wantErr string }{
		{"both monitors", `metrics: {serviceMonitor: {enabled: true}, podMonitor: {enabled: true}}`, "enable one"},
		{"disabling an alert that does not exist", `metrics: {prometheusRule: {enabled: true, disabledAlerts: [WeatherConsumerLagGrowin]}}`, "WeatherConsumerLagGrowin is no alert of the chart"},
		{"interval not a Prometheus duration", `metrics: {serviceMonitor: {interval: 1.5m}}`, "/metrics/serviceMonitor/interval"},
		{"scrape timeout not a duration", `metrics: {podMonitor: {scrapeTimeout: soon}}`, "/metrics/podMonitor/scrapeTimeout"},
		{"unknown key", `metrics: {prometheusRule: {rules: []}}`, "'rules' not allowed"},
		{"runbook base not a URL", `metrics: {prometheusRule: {runbookBaseURL: wiki}}`, "/metrics/prometheusRule/runbookBaseURL"},
		{"dashboard label not a string", `metrics: {grafanaDashboard: {labels: {grafana_dashboard: 1}}}`, "/metrics/grafanaDashboard/labels"},
		{"extra rule group without rules", `metrics: {prometheusRule: {extraRuleGroups: [{name: x}]}}`, "/metrics/prometheusRule/extraRuleGroups"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderChart(t, "weather", c.values)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("render error %v, want one with %q", err, c.wantErr)
			}
		})
	}
}

// checkEndpoint: the scrape endpoint is the services' port "http" at
// /metrics, and its relabelings begin with the chart's two, which give every
// series the labels the alerts and the dashboard select on.
func checkEndpoint(t *testing.T, port, metricsPath string, interval monitoringv1.Duration, wantInterval monitoringv1.Duration, relabelings []monitoringv1.RelabelConfig, extra int) {
	t.Helper()
	if port != "http" || metricsPath != "/metrics" || interval != wantInterval {
		t.Errorf("endpoint port %q path %q interval %q, want http /metrics %q", port, metricsPath, interval, wantInterval)
	}
	want := []monitoringv1.RelabelConfig{
		{SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_label_app_kubernetes_io_instance"}, TargetLabel: "weather_release"},
		{SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_label_app_kubernetes_io_component"}, TargetLabel: "weather_component"},
	}
	if len(relabelings) != len(want)+extra || !reflect.DeepEqual(relabelings[:len(want)], want) {
		t.Errorf("relabelings %+v, want the chart's %+v then %d more", relabelings, want, extra)
	}
}

// serviceWorkloads returns the rendered Deployments and StatefulSets by
// component, with their pod template.
func serviceWorkloads(objs []client.Object) map[string]*corev1.PodTemplateSpec {
	ws := map[string]*corev1.PodTemplateSpec{}
	for _, o := range objs {
		switch w := o.(type) {
		case *appsv1.Deployment:
			ws[w.Spec.Template.Labels["app.kubernetes.io/component"]] = &w.Spec.Template
		case *appsv1.StatefulSet:
			ws[w.Spec.Template.Labels["app.kubernetes.io/component"]] = &w.Spec.Template
		}
	}
	return ws
}

// checkMetricsPort: the pod has a container port named port, and it is the
// one its service serves /metrics on (HTTP_ADDR, METRICS_ADDR).
func checkMetricsPort(t *testing.T, component string, pod *corev1.PodTemplateSpec, port string) {
	t.Helper()
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name != port {
				continue
			}
			for _, e := range c.Env {
				if e.Name == metricsAddrEnv[component] {
					if want := fmt.Sprintf(":%d", p.ContainerPort); e.Value != want {
						t.Errorf("%s: port %s is %d but %s=%q: /metrics is elsewhere", component, port, p.ContainerPort, e.Name, e.Value)
					}
					return
				}
			}
			t.Errorf("%s: container %s has no %s", component, c.Name, metricsAddrEnv[component])
			return
		}
	}
	t.Errorf("%s: no container port %q to scrape", component, port)
}

// checkServiceMonitor: the monitor selects, in the release's namespace, one
// Service per service workload that runs, each selecting exactly that
// workload's pods on their metrics port, and none of Kafka's.
func checkServiceMonitor(t *testing.T, objs []client.Object, sm *monitoringv1.ServiceMonitor) {
	t.Helper()
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) || sm.Spec.NamespaceSelector.Any {
		t.Errorf("namespaceSelector %+v, want the release's namespace %s", sm.Spec.NamespaceSelector, namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints %+v, want one", sm.Spec.Endpoints)
	}
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	workloads := serviceWorkloads(objs)
	scraped := map[string]int{}
	for _, o := range objs {
		svc, ok := o.(*corev1.Service)
		if !ok || !sel.Matches(klabels.Set(svc.Labels)) {
			continue
		}
		var matched []string
		for component, pod := range workloads {
			if len(svc.Spec.Selector) > 0 && klabels.SelectorFromSet(svc.Spec.Selector).Matches(klabels.Set(pod.Labels)) {
				matched = append(matched, component)
			}
		}
		if len(matched) != 1 {
			t.Errorf("Service %s (selected by the ServiceMonitor) selects the pods of %v, want one workload's", svc.Name, matched)
			continue
		}
		component := matched[0]
		scraped[component]++
		var sp *corev1.ServicePort
		for i := range svc.Spec.Ports {
			if svc.Spec.Ports[i].Name == sm.Spec.Endpoints[0].Port {
				sp = &svc.Spec.Ports[i]
			}
		}
		if sp == nil {
			t.Errorf("Service %s has no port %q", svc.Name, sm.Spec.Endpoints[0].Port)
			continue
		}
		checkMetricsPort(t, component, workloads[component], sp.TargetPort.String())
	}
	for component := range workloads {
		want := 1
		if component == "kafka" {
			want = 0 // no /metrics
		}
		if scraped[component] != want {
			t.Errorf("%s: scraped through %d Services, want %d", component, scraped[component], want)
		}
	}
}

// checkPodMonitor: the monitor selects the pods of every service workload
// (and not Kafka's), each with the metrics port.
func checkPodMonitor(t *testing.T, objs []client.Object, pm *monitoringv1.PodMonitor) {
	t.Helper()
	if pm == nil {
		t.Fatal("no PodMonitor")
	}
	if !slices.Equal(pm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("namespaceSelector %+v, want %s", pm.Spec.NamespaceSelector, namespace)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port == nil {
		t.Fatalf("podMetricsEndpoints %+v, want one with a port", pm.Spec.PodMetricsEndpoints)
	}
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	workloads := serviceWorkloads(objs)
	if len(workloads) != 6 {
		t.Errorf("workloads %v, want Kafka and the five services", slices.Sorted(maps.Keys(workloads)))
	}
	for component, pod := range workloads {
		_, service := metricsAddrEnv[component]
		if got := sel.Matches(klabels.Set(pod.Labels)); got != service {
			t.Errorf("%s: pods selected by the PodMonitor: %v, want %v", component, got, service)
		}
		if service {
			checkMetricsPort(t, component, pod, *pm.Spec.PodMetricsEndpoints[0].Port)
		}
	}
}

// ruleGroups returns a PrometheusRule's groups as the rule file's types.
func ruleGroups(t *testing.T, pr *monitoringv1.PrometheusRule) []monitoring.RuleGroup {
	t.Helper()
	if pr == nil {
		t.Fatal("no PrometheusRule")
	}
	var gs []monitoring.RuleGroup
	for _, g := range pr.Spec.Groups {
		rg := monitoring.RuleGroup{Name: g.Name}
		if g.Interval != nil {
			rg.Interval = string(*g.Interval)
		}
		for _, r := range g.Rules {
			mr := monitoring.Rule{Alert: r.Alert, Record: r.Record, Expr: r.Expr.String(), Labels: r.Labels, Annotations: r.Annotations}
			if r.For != nil {
				mr.For = string(*r.For)
			}
			if r.KeepFiringFor != nil {
				mr.KeepFiringFor = string(*r.KeepFiringFor)
			}
			rg.Rules = append(rg.Rules, mr)
		}
		gs = append(gs, rg)
	}
	return gs
}

func fileRuleGroups(t *testing.T) []monitoring.RuleGroup {
	t.Helper()
	f, err := monitoring.ReadRules(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return f.Groups
}

func checkDashboardConfigMap(t *testing.T, cm *corev1.ConfigMap, wantLabels map[string]string) {
	t.Helper()
	if cm == nil {
		t.Fatal("no dashboard ConfigMap")
	}
	for k, v := range wantLabels {
		if cm.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cm.Labels[k], v)
		}
	}
	want := chartFile(t, monitoring.DashboardFile)
	if got := cm.Data["weather.json"]; got != strings.TrimRight(want, "\n") {
		t.Errorf("weather.json is not files/dashboard.json (%d bytes, want %d)", len(got), len(want))
	}
	if len(cm.Data) != 1 || len(cm.BinaryData) != 0 {
		t.Errorf("ConfigMap data keys %v, want weather.json only", slices.Sorted(maps.Keys(cm.Data)))
	}
}

// chartFile is a file as the chart (helm package) carries it.
func chartFile(t *testing.T, name string) string {
	t.Helper()
	for _, f := range loadWeatherChart(t).Files {
		if f.Name == name {
			return string(f.Data)
		}
	}
	t.Fatalf("%s is not in the chart (.helmignore?)", name)
	return ""
}

// TestAlertRules checks what promtool does not: every alert is complete (a
// severity, a summary, a description, a runbook into docs/operating.md),
// and selects the metrics by the labels the chart's
// monitors set. promtool (make chart-rules) checks and unit-tests the rest.
func TestAlertRules(t *testing.T) {
	rules, err := monitoring.ReadRules(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			t.Run(r.Alert, func(t *testing.T) {
				if r.Alert == "" || r.Record != "" {
					t.Fatalf("rule %+v: the chart has alerts only", r)
				}
				if seen[r.Alert] {
					t.Errorf("alert %s twice", r.Alert)
				}
				seen[r.Alert] = true
				if !slices.Contains([]string{"warning", "critical"}, r.Labels["severity"]) {
					t.Errorf("severity %q, want warning or critical", r.Labels["severity"])
				}
				for _, a := range []string{"summary", "description", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("no %s", a)
					}
				}
				if want := runbookBase + "#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
					t.Errorf("runbook_url %q, want %q (the docs/operating.md heading named after the alert)", r.Annotations["runbook_url"], want)
				}
				expr, err := monitoring.Parse(monitoring.Query{Where: r.Alert, Expr: r.Expr})
				if err != nil {
					t.Fatal(err)
				}
				// Every aggregation keeps the release apart (two releases in one
				// Prometheus are two alerts).
				if strings.Contains(r.Expr, " by (") && strings.Count(r.Expr, " by (") != strings.Count(r.Expr, " by (namespace, weather_release") {
					t.Errorf("an aggregation does not keep namespace and weather_release:\n%s", r.Expr)
				}
				if len(monitoring.Selectors(expr)) == 0 {
					t.Errorf("selects no metric")
				}
			})
		}
	}
}

// docs/operating.md on GitHub (the project's module path), whose "Alerts
// and what to do" has one heading per alert (GitHub's anchor: the name in
// lower case).
const runbookBase = "https://github.com/weatherstream/weather/blob/main/docs/operating.md"

// TestRunbooksInOperatingPage: every alert's runbook anchor is a heading of
// the "Alerts and what to do" section of docs/operating.md.
func TestRunbooksInOperatingPage(t *testing.T) {
	page, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(page), "\n## Alerts and what to do\n")
	if !ok {
		t.Fatal(`docs/operating.md has no "## Alerts and what to do" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{3,6} (.+)$`).FindAllStringSubmatch(section, -1) {
		anchors[githubAnchor(m[1])] = true
	}
	rules, err := monitoring.ReadRules(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if _, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#"); !anchors[anchor] {
				t.Errorf("%s: runbook_url anchor #%s is no heading of docs/operating.md's \"Alerts and what to do\" (headings: %v)",
					r.Alert, anchor, slices.Sorted(maps.Keys(anchors)))
			}
		}
	}
}

// githubAnchor is the id GitHub gives a Markdown heading: lower case,
// punctuation dropped, spaces to hyphens.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// TestDashboard: the Grafana dashboard is well formed (unique ids, panels
// on the 24-column grid, every query on the data source variable), every
// expression parses with Prometheus' parser and selects by the dashboard's
// namespace and release, and it shows what the issue asks for.
func TestDashboard(t *testing.T) {
	d, err := monitoring.ReadDashboard(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q title %q: both are needed for a stable import", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if !reflect.DeepEqual(vars, map[string]string{"datasource": "datasource", "namespace": "query", "release": "query"}) {
		t.Errorf("variables %v, want datasource, namespace, release", vars)
	}
	ids, titles := map[int]bool{}, map[string]bool{}
	for _, p := range d.AllPanels() {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d is 0 or taken", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if titles[p.Title] {
			t.Errorf("two panels titled %q", p.Title)
		}
		titles[p.Title] = true
		if p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %d: title %q, %d queries", p.ID, p.Title, len(p.Targets))
		}
		if ds := strings.Join(strings.Fields(string(p.Datasource)), ""); ds != `{"type":"prometheus","uid":"${datasource}"}` {
			t.Errorf("panel %q: datasource %s, want the variable", p.Title, p.Datasource)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q empty or twice", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
		}
	}
	qs, err := monitoring.Queries(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range qs {
		if !strings.HasPrefix(q.Where, "dashboard panel") {
			continue
		}
		n++
		expr, err := monitoring.Parse(q)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, v := range monitoring.Selectors(expr) {
			if !hasMatcher(v.LabelMatchers, "namespace", "$namespace") || !hasMatcher(v.LabelMatchers, "weather_release", "$release") {
				t.Errorf("%s: %s does not select namespace=\"$namespace\", weather_release=\"$release\"", q.Where, v)
			}
		}
	}
	if n < 20 {
		t.Errorf("%d panel queries: the dashboard lost its panels?", n)
	}
	names, err := monitoring.MetricNames(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	// What the issue asks it to show: throughput, lag (records and time),
	// checkpoint latency, skips per reason, the producer's commits.
	for _, want := range []string{
		"weather_consumer_records_total", "weather_consumer_lag_records", "weather_consumer_lag_seconds",
		"weather_consumer_checkpoint_write_seconds_bucket", "weather_consumer_records_skipped_total",
		"weather_producer_transactions_total", "weather_producer_transaction_commit_seconds_bucket",
	} {
		if !slices.ContainsFunc(names[want], func(w string) bool { return strings.HasPrefix(w, "dashboard panel") }) {
			t.Errorf("no panel shows %s", want)
		}
	}
}

func hasMatcher(ms []*labels.Matcher, name, value string) bool {
	return slices.ContainsFunc(ms, func(m *labels.Matcher) bool {
		return m.Name == name && m.Type == labels.MatchEqual && m.Value == value
	})
}

// TestMonitoringMetricNames: every query of the rules and the dashboard
// parses and names its metrics, all the services' (weather_…) or
// Prometheus' own up. services/integration proves each is served.
func TestMonitoringMetricNames(t *testing.T) {
	names, err := monitoring.MetricNames(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for name, where := range names {
		if name != "up" && !strings.HasPrefix(name, "weather_") {
			t.Errorf("%s (%v): not a metric of the services", name, where)
		}
	}
	rules, err := monitoring.ReadRules(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if !slices.ContainsFunc(slices.Collect(maps.Values(names)), func(ws []string) bool { return slices.Contains(ws, "alert "+r.Alert) }) {
				t.Errorf("alert %s: no metric listed for it", r.Alert)
			}
		}
	}
	t.Logf("%d metrics: %v", len(names), slices.Sorted(maps.Keys(names)))
}

// TestMonitoringLint is `helm lint --strict` with every monitoring object on.
func TestMonitoringLint(t *testing.T) {
	for name, values := range map[string]string{
		"service monitor": `metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true}, grafanaDashboard: {enabled: true}}`,
		"pod monitor":     `metrics: {podMonitor: {enabled: true, namespace: monitoring}, prometheusRule: {enabled: true, ruleLabels: {team: data}}, grafanaDashboard: {enabled: true}}`,
	} {
		t.Run(name, func(t *testing.T) { lintChart(t, values) })
	}
}
