package latency

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/bench/internal/kafka"
)

// trec is a record as the tracker saw it.
type trec struct {
	p   int32
	off int64
	ts  time.Time
}

// tracker reads the topic's committed records for their offsets and
// timestamps (the producer's create time: when it called Produce).
type tracker struct {
	mu    sync.Mutex
	recs  []trec
	next  map[int32]int64
	start time.Time
}

// newTracker tracks topic's records until ctx ends.
func newTracker(ctx context.Context, adm *kafka.Admin, topic string) (*tracker, error) {
	offsets := map[int32]kgo.Offset{}
	for _, p := range kafka.Partitions {
		offsets[p] = kgo.NewOffset().At(0)
	}
	c, err := adm.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	t := &tracker{next: map[int32]int64{}, start: time.Now()}
	go func() {
		defer c.Close()
		for ctx.Err() == nil {
			fetches := c.PollFetches(ctx)
			t.mu.Lock()
			fetches.EachRecord(func(rec *kgo.Record) {
				t.next[rec.Partition] = rec.Offset + 1
				if !rec.Attrs.IsControl() {
					t.recs = append(t.recs, trec{rec.Partition, rec.Offset, rec.Timestamp})
				}
			})
			t.mu.Unlock()
		}
	}()
	return t, nil
}

func (t *tracker) stats() (n int, rate float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.recs) < 2 {
		return len(t.recs), 0
	}
	return len(t.recs), float64(len(t.recs)) / time.Since(t.recs[0].ts).Seconds()
}

func (t *tracker) reached(ends map[int32]int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, e := range ends {
		if t.next[p] < e {
			return false
		}
	}
	return true
}

func (t *tracker) records() []trec {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.recs)
}
