package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/streamid"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/producer/internal/guard"

	"github.com/twmb/franz-go/pkg/kadm"
)

const topic = "temperatures"

var self = streamid.ID{Producer: "weather-producer", Seed: 3}

// fixture is a kfake broker with the topic, and a transactional client as
// the producer binary makes it.
type fixture struct {
	cluster *kfake.Cluster
	client  *kgo.Client
	guard   *guard.Guard
	logs    *bytes.Buffer
	log     *slog.Logger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{cluster: testkit.Cluster(t, kfake.SeedTopics(4, topic)), logs: new(bytes.Buffer)}
	f.log = slog.New(slog.NewTextHandler(f.logs, nil))
	f.client = f.newClient(t, kgo.TransactionalID(self.Producer), kgo.RequiredAcks(kgo.AllISRAcks()))
	return f
}

func (f *fixture) newClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(f.cluster.ListenAddrs()...), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// startGuard makes the guard the binary makes after resume: the ends now.
func (f *fixture) startGuard(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	reader, err := logread.New(ctx, f.newClient(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kafkaadmin.EndOffsets(ctx, kadm.NewClient(f.client), topic)
	if err != nil {
		t.Fatal(err)
	}
	f.guard = guard.New(f.log, reader, ends)
}

func (f *fixture) run(t *testing.T, ctx context.Context, cfg Config, next int64, m *Metrics) (int64, error) {
	t.Helper()
	cfg.Seed, cfg.Headers = self.Seed, self.Headers()
	if cfg.TxnInterval == 0 {
		cfg.TxnInterval = time.Minute
	}
	return Run(ctx, f.log, f.client, cfg, next, f.guard, m)
}

// readBack returns every committed record of the topic, per partition.
func (f *fixture) readBack(t *testing.T) map[int32][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkaadmin.EndOffsets(ctx, kadm.NewClient(f.client), topic)
	if err != nil {
		t.Fatal(err)
	}
	c := f.newClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	out := map[int32][]*kgo.Record{}
	seen := map[int32]int64{}
	for p, end := range ends {
		for seen[p] < end {
			fetches := c.PollFetches(ctx)
			if err := fetches.Err0(); err != nil {
				t.Fatal(err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				seen[r.Partition] = r.Offset + 1
				if !r.Attrs.IsControl() {
					out[r.Partition] = append(out[r.Partition], r)
				}
			})
		}
		_ = p
	}
	return out
}

func TestRunWritesTheMarkedStreamInTransactionsOfWholeDays(t *testing.T) {
	f := newFixture(t)
	f.startGuard(t)
	m := NewMetrics(prometheus.NewRegistry())
	// 95 is not a whole number of days: a commit every 95 reports would
	// make 11 transactions; one at the end of the day that reaches 95, 10.
	next, err := f.run(t, context.Background(), Config{Count: 1000, TxnRecords: 95}, 0, m)
	if err != nil || next != 1000 {
		t.Fatalf("Run = %d, %v; want 1000, nil", next, err)
	}
	if got := testutil.ToFloat64(m.transactions); got != 10 {
		t.Errorf("%v transactions, want 10 (whole days: 100 reports each)", got)
	}
	gen := generator.New(self.Seed)
	var r reportpb.Report
	total := 0
	for p, recs := range f.readBack(t) {
		last := int64(-1)
		for _, rec := range recs {
			if err := codec.Decode(rec.Key, rec.Value, &r); err != nil {
				t.Fatalf("partition %d offset %d: %v", p, rec.Offset, err)
			}
			i, _ := generator.Index(r.Date, r.StationId)
			if i <= last || gen.Report(i).Degrees != r.Degrees {
				t.Errorf("partition %d offset %d: report %d after %d, degrees %v", p, rec.Offset, i, last, r.Degrees)
			}
			if id, ok := streamid.Of(rec); !ok || !id.Same(self) {
				t.Errorf("partition %d offset %d: marked %v %v, want %v", p, rec.Offset, id, ok, self)
			}
			last = i
			total++
		}
	}
	if total != 1000 {
		t.Errorf("%d reports in the topic, want 1000", total)
	}
}

// Cancelled (SIGTERM), Run still commits what it produced, the day it was
// in included: the returned index is exactly what the topic holds.
func TestRunCommitsWhatItProducedWhenStopped(t *testing.T) {
	f := newFixture(t)
	f.startGuard(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	next, err := f.run(t, ctx, Config{Interval: 100 * time.Microsecond, TxnRecords: 1 << 30}, 0, NewMetrics(prometheus.NewRegistry()))
	if err != nil || next == 0 {
		t.Fatalf("Run = %d, %v; want some reports, nil", next, err)
	}
	total := 0
	for _, recs := range f.readBack(t) {
		total += len(recs)
	}
	if int64(total) != next {
		t.Errorf("the topic holds %d reports, Run says %d", total, next)
	}
}

// Another writer puts a record where the producer's next one had to land.
// A record of another stream (a second producer) aborts the transaction and
// stops the producer; any other record is only reported.
func TestRunWithAnotherWriterOnTheTopic(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers []kgo.RecordHeader
		wantErr bool
	}{
		{"another stream", streamid.ID{Producer: "second-producer", Seed: 3}.Headers(), true},
		{"a foreign record", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.startGuard(t)
			other := f.newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			rec := &kgo.Record{Partition: 2, Key: []byte("StationC"), Value: []byte("x"), Headers: tt.headers}
			if err := other.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
			next, err := f.run(t, context.Background(), Config{Count: 100, TxnRecords: 50}, 0, NewMetrics(prometheus.NewRegistry()))
			var otherStream *guard.ErrOtherStream
			if tt.wantErr {
				if !errors.As(err, &otherStream) || next != 0 {
					t.Fatalf("Run = %d, %v; want 0, another producer", next, err)
				}
				if recs := f.readBack(t); len(recs[0])+len(recs[1])+len(recs[3]) != 0 {
					t.Errorf("the aborted transaction's records were committed: %d, %d, %d", len(recs[0]), len(recs[1]), len(recs[3]))
				}
				return
			}
			if err != nil || next != 100 {
				t.Fatalf("Run = %d, %v; want 100, nil", next, err)
			}
			if !bytes.Contains(f.logs.Bytes(), []byte("another writer's records are among this producer's")) {
				t.Errorf("no warning about the foreign record:\n%s", f.logs)
			}
		})
	}
}

// More stations than the original's: each record keyed by its station, a
// day is that many reports, the stream's marks say how many.
func TestRunWithMoreStations(t *testing.T) {
	f := newFixture(t)
	f.startGuard(t)
	id := streamid.ID{Producer: self.Producer, Seed: self.Seed, Stations: 1000}
	cfg := Config{Count: 5000, TxnRecords: 1000, Stations: 1000, Seed: id.Seed, Headers: id.Headers(), TxnInterval: time.Minute}
	next, err := Run(context.Background(), f.log, f.client, cfg, 0, f.guard, NewMetrics(prometheus.NewRegistry()))
	if err != nil || next != 5000 {
		t.Fatalf("Run = %d, %v", next, err)
	}
	g, _ := generator.NewStations(id.Seed, 1000)
	var r reportpb.Report
	total := 0
	for p, recs := range f.readBack(t) {
		for _, rec := range recs {
			if err := codec.Decode(rec.Key, rec.Value, &r); err != nil {
				t.Fatalf("partition %d offset %d: %v", p, rec.Offset, err)
			}
			i, err := g.Index(r.Date, r.StationId)
			if got, ok := streamid.Of(rec); err != nil || !ok || !got.Same(id) || g.Report(i).Degrees != r.Degrees {
				t.Fatalf("partition %d offset %d: %s %s (%v), marked %v", p, rec.Offset, r.Date, r.StationId, err, got)
			}
			total++
		}
	}
	if total != 5000 {
		t.Errorf("%d reports, want 5000", total)
	}
}
