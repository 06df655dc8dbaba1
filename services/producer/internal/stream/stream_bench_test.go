package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/streamid"
	"github.com/weatherstream/weather/services/producer/internal/guard"
)

// BenchmarkAhead is the producer's per-record work before the client takes
// the record, as the loop gets it: generated, encoded and put into batches
// by ahead on its goroutine (ns/op is per record).
func BenchmarkAhead(b *testing.B) {
	headers := streamid.ID{Producer: "bench", Seed: 1}.Headers()
	b.ReportAllocs()
	n := 0
	for batch := range ahead(context.Background(), generator.New(1), headers, 0, int64(b.N)) {
		if batch.err != nil {
			b.Fatal(batch.err)
		}
		n += len(batch.recs)
	}
	if n != b.N {
		b.Fatalf("%d records, want %d", n, b.N)
	}
}

// BenchmarkRunFullSpeed runs the producer's loop (Run) at full speed against
// the broker in KAFKA_BROKERS, transactional, idempotent, acks=all, as the
// producer binary configures its client: b.N reports into a new 4-partition
// topic (ns/op is per report). It is what `make bench-profile` profiles; use
// -benchtime=1000000x for a fixed count.
func BenchmarkRunFullSpeed(b *testing.B) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		b.Skip("KAFKA_BROKERS is not set")
	}
	topic := fmt.Sprintf("bench-stream-%d", time.Now().UnixNano())
	seed := kgo.SeedBrokers(strings.Split(brokers, ",")...)
	// The producer binary's client options (main.go), metrics hooks included.
	client, err := kgo.NewClient(seed,
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID(topic),
		kgo.TransactionTimeout(time.Minute),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(10),
		kgo.ProducerLinger(time.Millisecond), // PRODUCE_LINGER's default; PRODUCE_COMPRESSION's, snappy, is franz-go's
		kgo.WithHooks(kprom.NewMetrics("weather_producer_kafka", kprom.Registerer(prometheus.NewRegistry()))),
	)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	defer adm.DeleteTopic(ctx, topic)
	// As the binary does before it produces (resume.Next): the partitions
	// have leaders, so that the timing does not include the topic's creation.
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil && ends.Error() == nil && len(ends[topic]) == 4 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reader, err := logread.New(ctx, client, topic)
	if err != nil {
		b.Fatal(err)
	}
	ends, err := kafkaadmin.EndOffsets(ctx, adm, topic)
	if err != nil {
		b.Fatal(err)
	}
	self := streamid.ID{Producer: topic, Seed: 1}

	b.ReportAllocs()
	b.ResetTimer()
	next, err := Run(ctx, log, client, Config{
		Seed: 1, Count: int64(b.N), TxnRecords: 10_000, TxnInterval: time.Second, Headers: self.Headers(),
	}, 0, guard.New(log, reader, ends), NewMetrics(prometheus.NewRegistry()))
	b.StopTimer()
	if err != nil || next != int64(b.N) {
		b.Fatalf("Run = %d, %v; want %d, nil", next, err, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
