package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/observe/observetest"
	"github.com/weatherstream/weather/services/common/streamid"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/producer/internal/guard"
	"github.com/weatherstream/weather/services/producer/internal/stream"
)

// The producer's /metrics, as the binary makes it, after it has written a
// stream to COUNT: Prometheus' linter passes, and the producer's own metric
// names are exactly the ones the chart's alerts and dashboard are written
// against.
func TestMetricsPassPrometheusLint(t *testing.T) {
	const topic = "temperatures"
	cluster := testkit.Cluster(t, kfake.SeedTopics(4, topic))
	reg, metrics, kafkaHooks := observe.NewMetrics("producer", stream.NewMetrics) // as observe.Start makes them in run
	client := testkit.Client(t, cluster, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("weather-producer"), kafkaHooks)
	ctx := context.Background()
	reader, err := logread.New(ctx, testkit.Client(t, cluster), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kafkaadmin.EndOffsets(ctx, kadm.NewClient(client), topic)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	self := streamid.ID{Producer: "weather-producer", Seed: 1}
	if _, err := stream.Run(ctx, log, client, stream.Config{Seed: 1, Count: 100, TxnRecords: 50, Headers: self.Headers()},
		0, guard.New(log, reader, ends), metrics); err != nil {
		t.Fatal(err)
	}

	want := []string{
		"weather_build_info",
		"weather_producer_done",
		"weather_producer_last_commit_timestamp_seconds",
		"weather_producer_last_committed_index",
		"weather_producer_next_index",
		"weather_producer_records_total",
		"weather_producer_transaction_commit_seconds",
		"weather_producer_transactions_total",
	}
	observetest.CheckServed(t, reg, "producer", want, "weather_producer_kafka_produce_bytes_total")
}
