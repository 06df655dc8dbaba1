package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/verify"
	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/generator"
)

// expStation is an expected station entry, computed with plain arithmetic.
type expStation struct {
	Count      int64
	Sum        float64
	Start, End string
}

func (e *expStation) add(date string, degrees float64) {
	if e.Count == 0 {
		e.Start = date
	}
	e.Count++
	e.Sum += degrees
	e.End = date
}

// fromGenerator computes each partition's stations for reports [0, count) of
// the default seed on the default 4 partitions, placed as Kafka's default
// partitioner places their keys. Sums add in stream order, as a consumer
// that never crashed would.
func fromGenerator(count int64) map[int32]map[string]*expStation {
	const partitions = 4
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic("any")
	g := generator.New(1)
	out := map[int32]map[string]*expStation{}
	for i := range int32(partitions) {
		out[i] = map[string]*expStation{}
	}
	var r reportpb.Report
	for i := range count {
		g.Fill(i, &r)
		p := int32(partitioner.Partition(&kgo.Record{Key: []byte(r.StationId)}, partitions))
		s, ok := out[p][r.StationId]
		if !ok {
			s = new(expStation)
			out[p][r.StationId] = s
		}
		s.add(r.Date, r.Degrees)
	}
	return out
}

// recount reads partition p of topic from offset from to its end, committed
// records only, and computes its stations: the stats the file must hold.
// Records that are not valid reports are left out, as the consumer does.
func recount(t testing.TB, topic string, p int32, from int64) map[string]*expStation {
	t.Helper()
	end := endOffsets(t, topic)[p]
	out := map[string]*expStation{}
	if from >= end {
		return out
	}
	c := newClient(t,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for next := from; next < end; {
		fetches := c.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatalf("recount %s/%d: %v", topic, p, err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			next = rec.Offset + 1
			if rec.Attrs.IsControl() {
				return
			}
			// The protobuf library and the documented rules, not the
			// consumer's codec: the check must not share its bugs.
			r, err := verify.Report(rec.Key, rec.Value)
			if err != nil {
				return
			}
			s, ok := out[r.StationId]
			if !ok {
				s = new(expStation)
				out[r.StationId] = s
			}
			s.add(r.Date, r.Degrees)
		})
	}
	return out
}

// checkStream reads every committed record of topic (at brokers) and checks
// that it holds exactly the stream's reports 0 … count-1, each once, in index
// order within each partition, each equal to what seedOf(index) generates,
// plus foreign records, which it counts: not written in a transaction (the
// producer writes only in transactions), not valid reports, or not the
// generated ones.
func checkStream(t testing.TB, at []string, topic string, count int64, seedOf func(int64) uint64) (foreign int) {
	t.Helper()
	ends := endOffsetsAt(t, at, topic)
	c := newClientAt(t, at, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seen := make([]bool, count)
	next := map[int32]int64{}
	last := map[int32]int64{}
	gens := map[uint64]*generator.Generator{}
	for done := false; !done; {
		fetches := c.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatalf("read back %s: %v", topic, err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			next[rec.Partition] = rec.Offset + 1
			if rec.Attrs.IsControl() {
				return
			}
			if !rec.Attrs.IsTransactional() {
				foreign++
				return
			}
			i := int64(-1)
			r, err := verify.Report(rec.Key, rec.Value) // the protobuf library, not our codec
			if err == nil {
				i, err = generator.Index(r.Date, r.StationId)
			}
			if err != nil || i >= count || i < 0 {
				foreign++
				return
			}
			seed := seedOf(i)
			if gens[seed] == nil {
				gens[seed] = generator.New(seed)
			}
			if gens[seed].Report(i).Degrees != r.Degrees {
				foreign++
				return
			}
			if seen[i] {
				t.Fatalf("report %d (%s %s) is in the topic twice (partition %d offset %d)", i, r.Date, r.StationId, rec.Partition, rec.Offset)
			}
			if l, ok := last[rec.Partition]; ok && i < l {
				t.Errorf("partition %d: report %d after %d", rec.Partition, i, l)
			}
			seen[i], last[rec.Partition] = true, i
		})
		done = true
		for p, end := range ends {
			if next[p] < end {
				done = false
			}
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("report %d of %d is not in the topic", i, count)
		}
	}
	return foreign
}

// seedOne is the seed of every index: the producer's default SEED.
func seedOne(int64) uint64 { return 1 }
