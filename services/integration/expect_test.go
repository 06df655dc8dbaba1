package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
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
// seed, placed as Kafka's default partitioner places their keys. Sums add in
// stream order, as a consumer that never crashed would.
func fromGenerator(seed uint64, count int64, partitions int) map[int32]map[string]*expStation {
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic("any")
	g := generator.New(seed)
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
func recount(t testing.TB, topic string, p int32, from int64) (map[string]*expStation, int) {
	t.Helper()
	end := endOffsets(t, topic)[p]
	out := map[string]*expStation{}
	if from >= end {
		return out, 0
	}
	c := newClient(t,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var r reportpb.Report
	bad := 0
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
			if codec.Decode(rec.Key, rec.Value, &r) != nil {
				bad++
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
	return out, bad
}
