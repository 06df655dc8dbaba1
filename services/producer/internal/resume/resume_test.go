package resume

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/streamid"
	"github.com/weatherstream/weather/services/common/testkit"
)

const topic = "temperatures"

var self = streamid.ID{Producer: "weather-producer", Seed: 1}

func TestDecide(t *testing.T) {
	mine := &found{index: 999, id: self, partition: 1, offset: 120}
	other := &found{index: 999, id: streamid.ID{Producer: "second", Seed: 1}, partition: 1, offset: 120}
	otherSeed := &found{index: 999, id: streamid.ID{Producer: self.Producer, Seed: 2}, partition: 1, offset: 120}
	legacy := &found{index: 1500, partition: 3, offset: 700}
	tests := []struct {
		name      string
		tail      tail
		takeover  bool
		wantNext  int64
		wantFence string
		wantErr   []string
	}{
		{"empty topic", tail{}, false, 0, "", nil},
		{"only foreign records", tail{foreign: 3}, false, 0, "", nil},
		{"this producer's stream", tail{stream: mine}, false, 1000, "", nil},
		{"this stream, older unmarked reports before it", tail{stream: &found{index: 2000, id: self}, legacy: legacy}, false, 2001, "", nil},
		{"another producer's stream", tail{stream: other}, false, 0, "", []string{"TRANSACTIONAL_ID=second", "STREAM_TAKEOVER=true", "report 999 (partition 1, offset 120)"}},
		{"another producer's stream, taken over", tail{stream: other}, true, 1000, "second", nil},
		{"another seed", tail{stream: otherSeed}, false, 0, "", []string{"SEED is 2", "SEED=2"}},
		{"another seed, taken over", tail{stream: otherSeed}, true, 1000, "", nil},
		{"unmarked reports", tail{legacy: legacy}, false, 0, "", []string{"without the stream's marks", "report 1500", "STREAM_TAKEOVER=true"}},
		{"unmarked reports after this stream", tail{stream: mine, legacy: legacy}, false, 0, "", []string{"without the stream's marks"}},
		{"unmarked reports, taken over", tail{legacy: legacy}, true, 1501, "", nil},
		{"unmarked after another's stream, taken over", tail{stream: other, legacy: legacy}, true, 1501, "second", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, fence, err := decide(tt.tail, topic, self, tt.takeover)
			if tt.wantErr == nil {
				if err != nil || next != tt.wantNext || fence != tt.wantFence {
					t.Errorf("decide = %d, %q, %v; want %d, %q, nil", next, fence, err, tt.wantNext, tt.wantFence)
				}
				return
			}
			if err == nil {
				t.Fatalf("decide = %d, %q, nil; want an error", next, fence)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// broker is a kfake cluster with the 4-partition topic.
type broker struct {
	cluster *kfake.Cluster
	t       *testing.T
}

func newBroker(t *testing.T) *broker {
	t.Helper()
	return &broker{testkit.Cluster(t, kfake.SeedTopics(4, topic)), t}
}

func (b *broker) client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	return testkit.Client(b.t, b.cluster, append([]kgo.Opt{kgo.DefaultProduceTopic(topic)}, opts...)...)
}

// write commits reports [from, to) of id's stream in one transaction, as the
// producer does (marked unless unmarked).
func (b *broker) write(id streamid.ID, from, to int64, unmarked bool) {
	b.t.Helper()
	cl := b.client(kgo.TransactionalID(id.Producer))
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		b.t.Fatal(err)
	}
	g, err := generator.NewStations(id.Seed, id.NumStations())
	if err != nil {
		b.t.Fatal(err)
	}
	for i := from; i < to; i++ {
		r := g.Report(i)
		value, _ := codec.Encode(nil, r)
		rec := &kgo.Record{Key: []byte(r.StationId), Value: value}
		if !unmarked {
			rec.Headers = id.Headers()
		}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				b.t.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		b.t.Fatal(err)
	}
}

// foreign writes r to partition p outside of any transaction.
func (b *broker) foreign(p int32, r *reportpb.Report, headers []kgo.RecordHeader) {
	b.t.Helper()
	value, _ := codec.Encode(nil, r)
	cl := b.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	rec := &kgo.Record{Partition: p, Key: []byte(r.StationId), Value: value, Headers: headers}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		b.t.Fatal(err)
	}
}

func (b *broker) find(o Options) (Position, error) {
	b.t.Helper()
	ctx := context.Background()
	cl := b.client()
	reader, err := logread.New(ctx, cl, topic)
	if err != nil {
		b.t.Fatal(err)
	}
	if o.Self == (streamid.ID{}) {
		o.Self = self
	}
	o.SettleWait, o.TxnTimeout = max(o.SettleWait, 10*time.Second), 10*time.Second
	return Find(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), cl, kadm.NewClient(cl), reader, topic, o)
}

func TestFind(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(b *broker)
		opts     Options
		wantNext int64
		wantErr  string
	}{
		{"empty topic", func(*broker) {}, Options{}, 0, ""},
		{"its own stream", func(b *broker) { b.write(self, 0, 1000, false) }, Options{}, 1000, ""},
		{"a later report from another writer at a tail", func(b *broker) {
			b.write(self, 0, 1000, false)
			b.foreign(0, generator.New(1).Report(3_652_510+1), nil) // 100 years later, StationB
		}, Options{}, 1000, ""},
		{"a copy of an old report, marks and all, at the tail of the last report's partition", func(b *broker) {
			b.write(self, 0, 1000, false)
			b.foreign(1, generator.New(1).Report(499), self.Headers()) // StationJ of day 49
		}, Options{}, 1000, ""},
		{"another producer's stream", func(b *broker) { b.write(streamid.ID{Producer: "second", Seed: 1}, 0, 500, false) },
			Options{}, 0, "TRANSACTIONAL_ID=second"},
		{"another producer's stream, taken over", func(b *broker) { b.write(streamid.ID{Producer: "second", Seed: 1}, 0, 500, false) },
			Options{Takeover: true}, 500, ""},
		{"another seed", func(b *broker) { b.write(streamid.ID{Producer: self.Producer, Seed: 9}, 0, 500, false) },
			Options{}, 0, "SEED is 9"},
		{"another number of stations", func(b *broker) {
			b.write(streamid.ID{Producer: self.Producer, Seed: 1, Stations: 1000}, 0, 5000, false)
		},
			Options{}, 0, "its STATIONS is 1000, this producer's is 10"},
		{"its own stream of more stations", func(b *broker) {
			b.write(streamid.ID{Producer: self.Producer, Seed: 1, Stations: 1000}, 0, 5000, false)
		},
			Options{Self: streamid.ID{Producer: self.Producer, Seed: 1, Stations: 1000}}, 5000, ""},
		{"an older producer's unmarked stream", func(b *broker) { b.write(self, 0, 700, true) }, Options{}, 0, "without the stream's marks"},
		{"an older producer's unmarked stream, taken over", func(b *broker) { b.write(self, 0, 700, true) }, Options{Takeover: true}, 700, ""},
		{"this stream after an older producer's", func(b *broker) {
			b.write(self, 0, 700, true)
			b.write(self, 700, 900, false)
		}, Options{}, 900, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBroker(t)
			tt.setup(b)
			pos, err := b.find(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Find = %+v, %v; want an error with %q", pos, err, tt.wantErr)
				}
				return
			}
			if err != nil || pos.Next != tt.wantNext {
				t.Fatalf("Find = %+v, %v; want next %d", pos, err, tt.wantNext)
			}
			ends, _ := kadm.NewClient(b.client()).ListEndOffsets(context.Background(), topic)
			ends.Each(func(o kadm.ListedOffset) {
				if pos.Ends[o.Partition] != o.Offset {
					t.Errorf("partition %d: end %d, want %d", o.Partition, pos.Ends[o.Partition], o.Offset)
				}
			})
		})
	}
}

// A takeover fences the other producer: its next write fails.
func TestFindTakeoverFencesTheOtherProducer(t *testing.T) {
	b := newBroker(t)
	second := streamid.ID{Producer: "second", Seed: 1}
	b.write(second, 0, 100, false)
	running := b.client(kgo.TransactionalID(second.Producer))
	if err := running.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.find(Options{Takeover: true}); err != nil {
		t.Fatal(err)
	}
	r := generator.New(1).Report(100)
	value, _ := codec.Encode(nil, r)
	err := running.ProduceSync(context.Background(), &kgo.Record{Key: []byte(r.StationId), Value: value}).FirstErr()
	if err == nil {
		err = running.EndTransaction(context.Background(), kgo.TryCommit)
	}
	if err == nil {
		t.Error("the fenced producer could still commit")
	}
}

// A transaction another producer keeps open: Find waits for it, then fails
// clearly naming the partitions.
func TestFindWithATransactionLeftOpen(t *testing.T) {
	b := newBroker(t)
	cl := b.client(kgo.TransactionalID("someone-else"), kgo.TransactionTimeout(time.Minute))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	r := generator.New(1).Report(0)
	value, _ := codec.Encode(nil, r)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(r.StationId), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reader, _ := logread.New(ctx, b.client(), topic)
	adm := kadm.NewClient(b.client())
	_, err := Find(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), b.client(), adm, reader, topic,
		Options{Self: self, SettleWait: 500 * time.Millisecond, TxnTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "partitions [3] of temperatures have had a transaction open") {
		t.Fatalf("Find: %v, want a transaction open on partition 3", err)
	}
}

// A retriable answer to resume's offset look-ups is retried, not fatal (CI
// once failed on it: UNKNOWN_TOPIC_OR_PARTITION right after the topic's
// creation).
func TestFindRetriesARetriableAnswer(t *testing.T) {
	b := newBroker(t)
	b.write(self, 0, 100, false)
	refused := testkit.RefuseListOffsets(b.cluster, 4)
	if pos, err := b.find(Options{}); err != nil || pos.Next != 100 {
		t.Fatalf("Find = %+v, %v; want next 100", pos, err)
	}
	if *refused != 4 {
		t.Errorf("%d refusals, want 4", *refused)
	}
}
