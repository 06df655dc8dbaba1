package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/observe/observetest"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/consumer/internal/consume"
)

// The consumer's /metrics, as the binary makes it, after it has consumed a
// topic: Prometheus' linter passes, and the consumer's own metric names are
// exactly the ones the chart's alerts and dashboard are written against.
func TestMetricsPassPrometheusLint(t *testing.T) {
	const topic = "temperatures"
	cluster := testkit.Cluster(t, kfake.SeedTopics(2, topic))
	producer := testkit.Client(t, cluster, kgo.DefaultProduceTopic(topic))
	g := generator.New(1)
	for i := range int64(200) {
		r := g.Report(i)
		v, _ := codec.Encode(nil, r)
		producer.Produce(context.Background(), &kgo.Record{Key: []byte(r.StationId), Value: v}, nil)
	}
	if err := producer.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	reg, metrics, kafkaHooks := observe.NewMetrics("consumer", consume.NewMetrics) // as observe.Start makes them in run
	store, err := checkpoint.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	admin := testkit.Client(t, cluster, snapshot.ClientOpts()...)
	adm := kadm.NewClient(admin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := consume.Start(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), admin, store, consume.Config{
		Topic: topic, Partitions: []int32{0, 1}, OnOutOfRange: consume.OutOfRangeFail, LockWait: time.Second,
		SaveRetries: 1, SaveBackoff: time.Millisecond, TopicCheckInterval: time.Second,
		SnapshotInterval: time.Second, MonitoringGroup: "weather-stats",
	}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := testkit.Client(t, cluster, append(c.ClientOpts(topic), kafkaHooks)...)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, client) }()
	ends, err := kafkaadmin.EndOffsets(ctx, adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f0, _ := store.Load(0)
		f1, _ := store.Load(1)
		if f0 != nil && f1 != nil && f0.Offset == ends[0] && f1.Offset == ends[1] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files not at the end offsets %v within 10s", ends)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	want := []string{
		"weather_build_info",
		"weather_consumer_checkpoint_write_failures_total",
		"weather_consumer_checkpoint_write_seconds",
		"weather_consumer_lag_records",
		"weather_consumer_lag_seconds",
		"weather_consumer_last_checkpoint_timestamp_seconds",
		"weather_consumer_log_end_offset",
		"weather_consumer_offset",
		"weather_consumer_records_skipped_total",
		"weather_consumer_records_total",
		"weather_consumer_snapshots_total",
		"weather_consumer_unread_partitions",
	}
	observetest.CheckServed(t, reg, "consumer", want, "weather_consumer_kafka_fetch_bytes_total")
}
