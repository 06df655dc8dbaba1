package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/observe/observetest"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/dashboard/internal/follow"
	"github.com/weatherstream/weather/services/dashboard/internal/kafkalog"
	"github.com/weatherstream/weather/services/dashboard/internal/live"
)

// The dashboard's /metrics, as the binary makes it, after a refresh:
// Prometheus' linter passes, and the dashboard's own metric names are
// exactly the ones the chart's alerts and dashboard are written against.
func TestMetricsPassPrometheusLint(t *testing.T) {
	const topic = "temperatures"
	cluster := testkit.Cluster(t, kfake.SeedTopics(2, topic), kfake.SeedTopics(2, snapshot.Topic(topic)))
	reg, metrics, kafkaHooks := observe.NewMetrics("dashboard", live.NewMetrics) // as run makes them
	client := testkit.Client(t, cluster, kafkaHooks)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	follower := follow.New(testkit.Client(t, cluster, follow.ClientOpts()...), topic, 100*time.Millisecond, log, metrics.SnapshotRecords())
	loop := live.New(live.Config{Topic: topic, Interval: 100 * time.Millisecond, History: time.Minute},
		follower, kafkalog.New(client, topic, 10, 10), log, metrics)
	ctx, cancel := context.WithCancel(context.Background())
	refreshed := make(chan struct{})
	done := make(chan error, 1)
	following := make(chan struct{})
	go func() { defer close(following); follower.Run(ctx) }()
	go func() { done <- loop.Run(ctx, func() { close(refreshed) }) }()
	select {
	case <-refreshed:
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh within 10s")
	}
	cancel()
	<-done
	<-following

	want := []string{
		"weather_build_info",
		"weather_dashboard_event_streams",
		"weather_dashboard_kafka_errors_total",
		"weather_dashboard_refresh_seconds",
		"weather_dashboard_snapshot_errors_total",
		"weather_dashboard_snapshot_records_total",
	}
	observetest.CheckServed(t, reg, "dashboard", want, "weather_dashboard_kafka_read_bytes_total")
}
