package observe

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/observe/observetest"
)

// Every service's registry says which build runs: weather_build_info = 1
// with its service name, version, VCS revision and Go version; and passes
// Prometheus' linter.
func TestNewRegistryHasTheBuildInfo(t *testing.T) {
	for _, service := range []string{"producer", "consumer", "debug", "dashboard", "controller"} {
		t.Run(service, func(t *testing.T) {
			reg := NewRegistry(service)
			labels := buildInfo(t, reg)
			for name, want := range map[string]string{"service": service, "goversion": runtime.Version(), "version": buildVersion()} {
				if labels[name] != want {
					t.Errorf("label %s = %q, want %q (all: %v)", name, labels[name], want, labels)
				}
			}
			if labels["revision"] == "" || labels["version"] == "" {
				t.Errorf("revision %q, version %q: want both set (\"unknown\" at worst)", labels["revision"], labels["version"])
			}
			if err := observetest.LintMetrics(reg); err != nil {
				t.Error(err)
			}
		})
	}
}

// A registry of its own (controller-runtime's) gets the build info once.
func TestRegisterBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := RegisterBuildInfo(reg, "controller"); err != nil {
		t.Fatal(err)
	}
	if got := buildInfo(t, reg)["service"]; got != "controller" {
		t.Errorf("service = %q", got)
	}
	if err := RegisterBuildInfo(reg, "controller"); err == nil {
		t.Error("registered twice without an error")
	}
}

// buildInfo returns the labels of reg's one weather_build_info series, whose
// value must be 1.
func buildInfo(t *testing.T, reg *prometheus.Registry) map[string]string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "weather_build_info" {
			continue
		}
		if len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Fatalf("weather_build_info: %v, want one series = 1", mf.GetMetric())
		}
		labels := map[string]string{}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		return labels
	}
	t.Fatal("no weather_build_info")
	return nil
}
