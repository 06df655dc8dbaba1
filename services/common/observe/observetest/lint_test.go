package observetest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The linter the services' lint tests rely on finds what it must: each bad
// metric below fails it with its own reason, and only kprom's known gauges
// are let through.
func TestLintMetrics(t *testing.T) {
	counter := func(name, help string) prometheus.Collector {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Collector {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	tests := []struct {
		name    string
		metric  prometheus.Collector
		wantErr string // "" passes
	}{
		{"a good counter", counter("weather_test_records_total", "Records."), ""},
		{"a good gauge", gauge("weather_test_lag_seconds", "Lag."), ""},
		{"a counter without _total", counter("weather_test_records", "Records."), `counter metrics should have "_total" suffix`},
		{"a gauge with _total", gauge("weather_test_records_total", "Records."), `non-counter metrics should not have "_total" suffix`},
		{"camel case", gauge("weather_testLag_seconds", "Lag."), "metric names should be written in 'snake_case'"},
		{"no help", gauge("weather_test_lag_seconds", " "), "empty help text"},
		{"a non-base unit", gauge("weather_test_lag_milliseconds", "Lag."), "use base unit"},
		{"kprom's gauge named like a counter", gauge("weather_test_kafka_buffered_fetch_records_total", "Buffered."), ""},
		{"kprom's name, another problem", gauge("weather_test_kafka_buffered_fetch_records_total", ""), "empty help text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(tt.metric)
			err := LintMetrics(reg)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("LintMetrics = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// LintText lints a scrape as LintMetrics lints a registry.
func TestLintText(t *testing.T) {
	tests := []struct {
		text    string
		wantErr string
	}{
		{"# HELP weather_test_records_total Records.\n# TYPE weather_test_records_total counter\nweather_test_records_total 1\n", ""},
		{"# HELP weather_test_records Records.\n# TYPE weather_test_records counter\nweather_test_records 1\n", `counter metrics should have "_total" suffix`},
		{"# TYPE weather_test_lag_seconds gauge\nweather_test_lag_seconds 1\n", "no help text"},
		{"not a scrape {", "parsing error"},
	}
	for _, tt := range tests {
		err := LintText(tt.text)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("LintText(%q) = %v, want %q", tt.text, err, tt.wantErr)
		}
	}
}
