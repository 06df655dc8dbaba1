package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

const topic = "temperatures"

var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

// write writes reports ("Station date degrees") in one transaction, the
// i-th with timestamp t0+i s, and ends it.
func write(t *testing.T, w *kgo.Client, end kgo.TransactionEndTry, first int, reports ...string) {
	t.Helper()
	if err := w.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i, r := range reports {
		var rep reportpb.Report
		if _, err := fmt.Sscanf(r, "%s %s %g", &rep.StationId, &rep.Date, &rep.Degrees); err != nil {
			t.Fatal(err)
		}
		value, err := codec.Encode(nil, &rep)
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Key: []byte(rep.StationId), Value: value, Timestamp: t0.Add(time.Duration(first+i) * time.Second)}
		if err := w.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndTransaction(context.Background(), end); err != nil {
		t.Fatal(err)
	}
}

func TestReadTellsOffsetsNewestReportAndLatest(t *testing.T) {
	c := testkit.Cluster(t, kfake.SeedTopics(1, topic))
	w := testkit.Client(t, c, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("writer"))
	write(t, w, kgo.TryCommit, 0, "StationA 2000-01-01 1", "StationB 2000-01-01 2", "StationA 2000-01-02 3") // 0-2, marker 3
	write(t, w, kgo.TryAbort, 3, "StationA 2000-01-03 99")                                                   // 4, marker 5
	testkit.Transaction(t, w, kgo.TryCommit, "not a report")                                                 // 6, marker 7
	write(t, w, kgo.TryCommit, 4, "StationA 2000-01-03 4", "StationA 2000-01-04 5")                          // 8-9, marker 10

	r := New(testkit.Client(t, c), topic, 100, 2)
	for _, tc := range []struct {
		stateOffset int64
		wantNewest  time.Time // zero: none
	}{
		{stateOffset: 4, wantNewest: t0.Add(2 * time.Second)},  // the first transaction counted, its marker too
		{stateOffset: 3, wantNewest: t0.Add(2 * time.Second)},  // up to the marker
		{stateOffset: 11, wantNewest: t0.Add(5 * time.Second)}, // everything
		{stateOffset: 0}, // nothing counted yet
	} {
		log := r.Read(context.Background(), at(map[int32]int64{0: tc.stateOffset}))
		if log.Err != nil {
			t.Fatal(log.Err)
		}
		if log.Partitions != 1 || log.TopicID == "" || log.StableOffsets[0] != 11 {
			t.Errorf("partitions %d, topic id %q, stable offsets %v; want 1, an id, 11", log.Partitions, log.TopicID, log.StableOffsets)
		}
		got, ok := log.NewestReport[0]
		if ok != !tc.wantNewest.IsZero() || !got.Equal(tc.wantNewest) {
			t.Errorf("state at %d: newest report %v (%v), want %v", tc.stateOffset, got, ok, tc.wantNewest)
		}
		// The latest two of each station, committed only, oldest first.
		want := map[string][]view.Reading{
			"StationA": {{Date: "2000-01-03", Degrees: 4}, {Date: "2000-01-04", Degrees: 5}},
			"StationB": {{Date: "2000-01-01", Degrees: 2}},
		}
		if len(log.Latest) != len(want) || !slices.Equal(log.Latest["StationA"], want["StationA"]) || !slices.Equal(log.Latest["StationB"], want["StationB"]) {
			t.Errorf("latest = %v, want %v", log.Latest, want)
		}
	}
}

func TestReadOfAMissingTopicIsAnError(t *testing.T) {
	c := testkit.Cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	log := New(testkit.Client(t, c), topic, 100, 2).Read(ctx, at(nil))
	if !errors.Is(log.Err, kafkaadmin.ErrNoTopic) || log.StableOffsets != nil {
		t.Fatalf("Read of a missing topic = %+v, want an error and nothing else", log)
	}
}

func TestReadWithoutTailReadsNoLatest(t *testing.T) {
	c := testkit.Cluster(t, kfake.SeedTopics(2, topic))
	w := testkit.Client(t, c, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("writer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	write(t, w, kgo.TryCommit, 0, "StationA 2000-01-01 1")
	log := New(testkit.Client(t, c), topic, 0, 2).Read(context.Background(), at(map[int32]int64{0: 2, 1: 0}))
	if log.Err != nil || log.Latest != nil || len(log.StableOffsets) != 2 {
		t.Fatalf("Read = %+v; want no error, no latest, two partitions", log)
	}
}

// A state's offset that is not in the log (past its end: a state of another
// log) costs only that partition its facts, never the others'.
func TestReadOfAnOffsetOutsideTheLogKeepsTheOtherPartitionsFacts(t *testing.T) {
	c := testkit.Cluster(t, kfake.SeedTopics(2, topic))
	w := testkit.Client(t, c, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("writer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	write(t, w, kgo.TryCommit, 0, "StationA 2000-01-01 1") // partition 0: 0, marker 1
	log := New(testkit.Client(t, c), topic, 100, 2).Read(context.Background(), at(map[int32]int64{0: 2, 1: 999999}))
	if log.Err != nil {
		t.Fatalf("Read = %v, want the facts of every partition", log.Err)
	}
	if log.StableOffsets[0] != 2 || log.StableOffsets[1] != 0 || log.StartOffsets[0] != 0 || !log.NewestReport[0].Equal(t0) {
		t.Errorf("stable %v, start %v, newest %v; want partition 0's facts", log.StableOffsets, log.StartOffsets, log.NewestReport)
	}
	if _, ok := log.NewestReport[1]; ok {
		t.Errorf("a newest report for an offset past the log's end: %v", log.NewestReport[1])
	}
}

// at is the offsets of the states shown, whatever the topic's ID.
func at(offsets map[int32]int64) func(string) map[int32]int64 {
	return func(string) map[int32]int64 { return offsets }
}
