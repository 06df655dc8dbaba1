package consume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
)

// Benchmarks of the stats consumer's per-record path. BenchmarkApply needs
// nothing; BenchmarkRunCatchUp needs a broker (KAFKA_BROKERS) and is what
// `make bench-profile` profiles. Neither fails on time.

// records returns n records of the stream as a partition's fetch would hold
// them: every report keyed by its station, offsets from 0.
func records(n int) []*kgo.Record {
	g := generator.New(1)
	var r reportpb.Report
	recs := make([]*kgo.Record, n)
	for i := range recs {
		g.Fill(int64(i), &r)
		v, _ := codec.Encode(nil, &r)
		recs[i] = &kgo.Record{Key: []byte(r.StationId), Value: v, Offset: int64(i)}
	}
	return recs
}

func benchConsumer(b *testing.B, dir string) *Consumer {
	store, err := checkpoint.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	return &Consumer{
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		store: store, parts: map[int32]*stats.Partition{0: stats.New(0)},
		metrics: m, pm: map[int32]partitionMetrics{0: m.partition(0)}, saveRetries: 1,
	}
}

// BenchmarkApply is the fold of one record into the stats: decode, checks,
// stats update, metrics (ns/op is per record).
func BenchmarkApply(b *testing.B) {
	c := benchConsumer(b, b.TempDir())
	batch := records(10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(len(batch), b.N-done)
		c.parts[0].Offset = 0
		c.apply(0, batch[:n])
		done += n
	}
}

// BenchmarkRunCatchUp runs the consumer's loop (Run: fetch, apply, a
// checkpoint with fsync per batch) over all partitions of a topic from
// offset 0 to the end, the way the consumer binary does. One op is one whole
// pass; the metric records/s is what counts. Topic: BENCH_TOPIC if set (an
// existing one, e.g. the producer's), else a topic of BENCH_RECORDS
// (default 1M) reports produced here first.
func BenchmarkRunCatchUp(b *testing.B) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		b.Skip("KAFKA_BROKERS is not set")
	}
	seed := []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...)}
	admClient, err := kgo.NewClient(append(seed, snapshot.ClientOpts()...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	ctx := context.Background()

	topic := os.Getenv("BENCH_TOPIC")
	if topic == "" {
		topic = fmt.Sprintf("bench-consume-%d", time.Now().UnixNano())
		produceTopic(b, seed, adm, topic)
		defer adm.DeleteTopic(ctx, topic)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.Fatal(err)
	}
	want, total := map[int32]int64{}, int64(0)
	var parts []int32
	ends.Each(func(o kadm.ListedOffset) {
		want[o.Partition], total = o.Offset, total+o.Offset
		parts = append(parts, o.Partition)
	})

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		b.StopTimer()
		// Each pass from offset 0: no snapshot to restore from.
		if _, err := adm.DeleteTopic(ctx, snapshot.Topic(topic)); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			b.Fatal(err)
		}
		for {
			if t, err := adm.ListTopics(ctx, snapshot.Topic(topic)); err == nil && !t.Has(snapshot.Topic(topic)) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		dir := b.TempDir()
		if d := os.Getenv("CHECKPOINT_BENCH_DIR"); d != "" {
			dir, _ = os.MkdirTemp(d, "consume-bench-")
			defer os.RemoveAll(dir)
		}
		metrics := NewMetrics(prometheus.NewRegistry())
		c, err := Start(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), admClient, mustOpen(b, dir),
			Config{Topic: topic, Partitions: parts, OnOutOfRange: OutOfRangeFail, LockWait: time.Second, SaveRetries: 1, TopicCheckInterval: 10 * time.Second,
				CheckpointInterval: 100 * time.Millisecond, SnapshotInterval: time.Second, MonitoringGroup: "weather-stats"}, // the binary's defaults
			metrics)
		if err != nil {
			b.Fatal(err)
		}
		// The consumer binary's client options (main.go), metrics hooks included.
		client, err := kgo.NewClient(append(append(seed, c.ClientOpts(topic)...),
			kgo.FetchMaxPartitionBytes(1<<20), kgo.FetchMaxBytes(256<<10), // the binary's defaults
			kgo.WithHooks(kprom.NewMetrics("weather_consumer_kafka", kprom.Registerer(prometheus.NewRegistry()))))...)
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		go func() { // stop once every partition's file is at its end offset
			for runCtx.Err() == nil {
				// The offset gauges (atomic, cheap) first; the files, read
				// and parsed, only once every gauge is at the end.
				caughtUp := true
				for p, end := range want {
					caughtUp = caughtUp && testutil.ToFloat64(metrics.offset.WithLabelValues(fmt.Sprint(p))) >= float64(end)
				}
				for p, end := range want {
					if !caughtUp {
						break
					}
					if f, _ := c.store.Load(p); f == nil || f.Offset < end {
						caughtUp = false
					}
				}
				if caughtUp {
					cancel()
				}
				time.Sleep(time.Millisecond)
			}
		}()
		b.StartTimer()
		err = c.Run(runCtx, client)
		b.StopTimer()
		cancel()
		client.Close()
		c.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total)*float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkRawCatchUp is the baseline of BenchmarkRunCatchUp: the same
// client options (ClientOpts, the fetch sizes, the metrics hooks), the same
// pass from offset 0 to the end, and no work per record. The difference of
// their profiles is what the consumer's own work costs.
func BenchmarkRawCatchUp(b *testing.B) {
	brokers, topic := os.Getenv("KAFKA_BROKERS"), os.Getenv("BENCH_TOPIC")
	if brokers == "" || topic == "" {
		b.Skip("KAFKA_BROKERS and BENCH_TOPIC are not set")
	}
	seed := []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...)}
	admClient, err := kgo.NewClient(append(seed, snapshot.ClientOpts()...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer admClient.Close()
	ends, err := kadm.NewClient(admClient).ListEndOffsets(context.Background(), topic)
	if err != nil {
		b.Fatal(err)
	}
	offsets, total := map[int32]kgo.Offset{}, int64(0)
	ends.Each(func(o kadm.ListedOffset) { offsets[o.Partition], total = kgo.NewOffset().At(0), total+o.Offset })
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		client, err := kgo.NewClient(append(seed,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NoResetOffset()),
			kgo.FetchMaxPartitionBytes(1<<20), kgo.FetchMaxBytes(256<<10),
			kgo.WithHooks(kprom.NewMetrics("weather_consumer_kafka", kprom.Registerer(prometheus.NewRegistry()))))...)
		if err != nil {
			b.Fatal(err)
		}
		for seen := int64(0); seen < total; {
			client.PollFetches(context.Background()).EachPartition(func(fp kgo.FetchTopicPartition) { seen += int64(len(fp.Records)) })
		}
		client.Close()
	}
	b.ReportMetric(float64(total)*float64(b.N)/time.Since(start).Seconds(), "records/s")
}

func mustOpen(b *testing.B, dir string) *checkpoint.Store {
	s, err := checkpoint.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// produceTopic fills a new 4-partition topic with the stream's first
// BENCH_RECORDS reports, keyed as the producer keys them.
func produceTopic(b *testing.B, seed []kgo.Opt, adm *kadm.Client, topic string) {
	n := int64(1_000_000)
	if s := os.Getenv("BENCH_RECORDS"); s != "" {
		fmt.Sscan(s, &n)
	}
	if _, err := adm.CreateTopic(context.Background(), 4, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	p, err := kgo.NewClient(append(seed, kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	stations := int(generator.NumStations)
	if s := os.Getenv("BENCH_STATIONS"); s != "" {
		fmt.Sscan(s, &stations)
	}
	g, err := generator.NewStations(1, stations)
	if err != nil {
		b.Fatal(err)
	}
	var r reportpb.Report
	for i := range n {
		g.Fill(i, &r)
		v, _ := codec.Encode(nil, &r)
		p.Produce(context.Background(), &kgo.Record{Key: []byte(r.StationId), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}
