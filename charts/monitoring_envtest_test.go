package charts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"golang.org/x/mod/modfile"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Go module whose types decode the monitoring objects; the Prometheus
// Operator's main module of the same version holds its CRDs.
const (
	operatorAPIModule = "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring"
	operatorModule    = "github.com/prometheus-operator/prometheus-operator"
)

// operatorCRDs returns the Prometheus Operator's CRD manifests of the
// version charts/go.mod pins (that of its API types), from the Go module
// proxy: the module zip has them in example/prometheus-operator-crd. go mod
// download verifies the zip against the checksum database and caches it.
func operatorCRDs(t *testing.T, names ...string) []string {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, r := range mf.Require {
		if r.Mod.Path == operatorAPIModule {
			version = r.Mod.Version
		}
	}
	if version == "" {
		t.Fatalf("go.mod does not require %s", operatorAPIModule)
	}
	dir := moduleDir(t, operatorModule, version, "")
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_"+n+".yaml"))
	}
	t.Logf("Prometheus Operator %s CRDs from %s", version, dir)
	return paths
}

// TestMonitoringServerSideDryRun has a real kube-apiserver with the
// Prometheus Operator's CRDs installed validate the monitoring objects with
// a strict dry-run create (an unknown field, a bad duration, a wrong type is
// refused by the CRD's schema), together with every other object of the
// same rendering. It needs KUBEBUILDER_ASSETS, as TestServerSideDryRun.
func TestMonitoringServerSideDryRun(t *testing.T) {
	c, warns := apiServer(t, monitoringScheme, operatorCRDs(t, "servicemonitors", "podmonitors", "prometheusrules")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ns := range []string{namespace, "monitoring"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		}}}); err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
	}

	dryRun := func(obj client.Object) error {
		obj = obj.DeepCopyObject().(client.Object)
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		err := c.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict"))
		if w := warns.take(); err == nil && len(w) > 0 {
			err = fmt.Errorf("API server warnings: %s", strings.Join(w, "; "))
		}
		return err
	}

	for _, s := range []struct {
		name, release, values string
		monitors              int // ServiceMonitor, PodMonitor, PrometheusRule objects
	}{
		{"service monitor, rules, dashboard", "weather", `metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true}, grafanaDashboard: {enabled: true}}`, 2},
		{"pod monitor, rules, dashboard", "weather", `metrics: {podMonitor: {enabled: true}, prometheusRule: {enabled: true}, grafanaDashboard: {enabled: true}}`, 2},
		{"every option, elsewhere", "demo", `
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
  prometheusRule:
    enabled: true
    namespace: monitoring
    ruleLabels: {team: data}
    disabledAlerts: [WeatherRecordsSkipped]
    runbookBaseURL: https://wiki.example.com/weather
    extraRuleGroups: [{name: mine, interval: 1m, rules: [{alert: Mine, expr: vector(1), for: 5m, labels: {severity: info}}]}]
  grafanaDashboard: {enabled: true, namespace: monitoring, annotations: {grafana_folder: Kafka}}
`, 2},
		{"pod monitor options", "weather", `metrics: {podMonitor: {enabled: true, interval: 1m, scrapeTimeout: 30s, relabelings: [{targetLabel: team, replacement: data}]}}`, 1},
	} {
		t.Run(s.name, func(t *testing.T) {
			monitors := 0
			for _, o := range renderMonitoring(t, s.release, s.values) {
				id := monitoringKind(o) + "/" + o.GetName()
				if err := dryRun(o); err != nil {
					t.Errorf("%s: server-side dry run: %v", id, err)
				}
				switch o.(type) {
				case *monitoringv1.ServiceMonitor, *monitoringv1.PodMonitor, *monitoringv1.PrometheusRule:
					monitors++
				}
			}
			if monitors != s.monitors {
				t.Errorf("%d Prometheus Operator objects went through the dry run, want %d", monitors, s.monitors)
			}
		})
	}

	// The CRDs' schemas are what validated them: the same objects, spoilt,
	// are refused.
	objs := renderMonitoring(t, "weather", `metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true}}`)
	sm, _ := findObject[*monitoringv1.ServiceMonitor](objs, "weather")
	pr, _ := findObject[*monitoringv1.PrometheusRule](objs, "weather")
	badInterval := sm.DeepCopy()
	badInterval.Spec.Endpoints[0].Interval = "half a minute"
	badFor := pr.DeepCopy()
	badFor.Spec.Groups[0].Rules[0].For = ptrTo(monitoringv1.Duration("10 minutes"))
	for name, o := range map[string]client.Object{"ServiceMonitor with a bad interval": badInterval, "PrometheusRule with a bad for": badFor} {
		if err := dryRun(o); err == nil {
			t.Errorf("%s: accepted; the CRD's schema did not validate it", name)
		} else {
			t.Logf("%s: refused as it must be: %v", name, err)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
