package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/observe/observetest"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/debug/internal/printer"
	"github.com/weatherstream/weather/services/debug/internal/tail"
)

// The debug consumer's /metrics, as the binary makes it, after it printed
// reports and stepped over a bad record: Prometheus' linter passes, and its
// own metric names are exactly the ones the chart's alerts and dashboard
// are written against.
func TestMetricsPassPrometheusLint(t *testing.T) {
	const topic = "temperatures"
	cluster := testkit.Cluster(t, kfake.SeedTopics(1, topic))
	reg, metrics, kafkaHooks := observe.NewMetrics("debug", tail.NewMetrics) // as observe.Start makes them in run
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	assigned := make(chan struct{})
	client := testkit.Client(t, cluster, append(tail.ClientOpts(log, "debug", topic, func() { close(assigned) }), kafkaHooks)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tail.Run(ctx, log, client, io.Discard, printer.Python, metrics) }()
	select {
	case <-assigned:
	case <-time.After(20 * time.Second):
		t.Fatal("no partitions assigned within 20s")
	}
	producer := testkit.Client(t, cluster, kgo.DefaultProduceTopic(topic))
	r := generator.New(1).Report(0)
	v, _ := codec.Encode(nil, r)
	if err := producer.ProduceSync(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v}, &kgo.Record{Value: []byte{0xff}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); printed(t, reg) < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nothing printed within 10s")
		}
	}
	cancel()
	<-done

	want := []string{"weather_build_info", "weather_debug_records_skipped_total", "weather_debug_records_total"}
	observetest.CheckServed(t, reg, "debug", want, "weather_debug_kafka_fetch_bytes_total")
}

// printed is weather_debug_records_total as reg serves it.
func printed(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "weather_debug_records_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
