package stream

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/producer/internal/resume"
)

// holds fences the producer's transactional id, as the next start does (a
// transaction left open is aborted), and returns the indexes of the reports
// the topic then holds, each checked to be the stream's.
func (f *fixture) holds(t *testing.T) []int64 {
	t.Helper()
	if err := resume.Fence(context.Background(), f.newClient(t), self.Producer, time.Minute); err != nil {
		t.Fatal(err)
	}
	g := generator.New(self.Seed)
	var (
		r       reportpb.Report
		indexes []int64
	)
	for p, recs := range f.readBack(t) {
		for _, rec := range recs {
			if err := codec.Decode(rec.Key, rec.Value, &r); err != nil {
				continue // another writer's
			}
			i, err := g.Index(r.Date, r.StationId)
			if err != nil || g.Report(i).Degrees != r.Degrees {
				t.Fatalf("partition %d offset %d: %s %s %v: not the stream's (%v)", p, rec.Offset, r.Date, r.StationId, r.Degrees, err)
			}
			indexes = append(indexes, i)
		}
	}
	return indexes
}

// exactly fails unless indexes are 0 … n-1, each once.
func exactly(t *testing.T, indexes []int64, n int64) {
	t.Helper()
	seen := map[int64]bool{}
	for _, i := range indexes {
		if i >= n || seen[i] {
			t.Fatalf("the topic holds report %d (twice: %v); want reports 0 to %d once each", i, seen[i], n-1)
		}
		seen[i] = true
	}
	if int64(len(seen)) != n {
		t.Fatalf("the topic holds %d reports, want %d", len(seen), n)
	}
}

// The broker refuses a commit: Run stops with the error naming the reports
// it could not commit, returns the index after the last committed one, and
// the metrics say no more than that; once the next start fences the
// transaction, the topic holds exactly the reports before that index.
func TestRunStopsWhenACommitFails(t *testing.T) {
	f := newFixture(t)
	f.startGuard(t)
	var ends atomic.Int32
	f.cluster.ControlKey(kmsg.EndTxn.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if ends.Add(1) == 1 {
			f.cluster.KeepControl()
			return nil, nil, false // the first commit goes through
		}
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil, true
	})
	m := NewMetrics(prometheus.NewRegistry())
	next, err := f.run(t, context.Background(), Config{Count: 100, TxnRecords: 50}, 0, m)
	if next != 50 || !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || !strings.HasPrefix(err.Error(), "commit reports 50 to 99: ") {
		t.Fatalf("Run = %d, %v; want 50, commit reports 50 to 99 refused", next, err)
	}
	if got := testutil.ToFloat64(m.lastCommitted); got != 49 {
		t.Errorf("last committed index %v, want 49", got)
	}
	if got := testutil.ToFloat64(m.transactions); got != 1 {
		t.Errorf("%v transactions counted, want 1", got)
	}
	if got := testutil.ToFloat64(m.done); got != 0 {
		t.Errorf("done %v, want 0", got)
	}
	exactly(t, f.holds(t), 50)
}

// The guard cannot read the gap another writer left among the producer's
// records: whose they are is unknown, so the transaction is aborted and Run
// stops with the read's error; nothing of the transaction is committed.
func TestRunAbortsWhenTheGuardCannotReadAGap(t *testing.T) {
	f := newFixture(t)
	f.startGuard(t)
	other := f.newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := other.ProduceSync(context.Background(), &kgo.Record{Partition: 2, Key: []byte("StationC"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int32
	f.cluster.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.(*kmsg.FetchRequest).Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	m := NewMetrics(prometheus.NewRegistry())
	next, err := f.run(t, context.Background(), Config{Count: 100, TxnRecords: 50}, 0, m)
	want := "produce reports 0 to 49 (transaction aborted): read the records another writer put among this producer's: " +
		"read temperatures partition 2 at offset 0: TOPIC_AUTHORIZATION_FAILED"
	if next != 0 || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Run = %d, %v; want 0, %q", next, err, want)
	}
	if refused.Load() != 1 {
		t.Errorf("%d refused fetches, want 1 (the guard's)", refused.Load())
	}
	if got := testutil.ToFloat64(m.lastCommitted); got != -1 {
		t.Errorf("last committed index %v, want -1", got)
	}
	if indexes := f.holds(t); len(indexes) != 0 {
		t.Errorf("the aborted transaction's reports are in the topic: %d", len(indexes))
	}
	if strings.Contains(f.logs.String(), "another writer's records are among this producer's") {
		t.Errorf("the unread gap was reported as read:\n%s", f.logs)
	}
}

// A report that does not encode (a generated one never fails, so the
// encoding is made to fail at report 1030, in the generator's second batch):
// Run stops with that error and returns the index after the last committed
// report; the reports of the open transaction are not committed.
func TestRunStopsAtAReportThatDoesNotEncode(t *testing.T) {
	broken := errors.New("string field contains invalid UTF-8")
	encode = func(v *codec.Values, r *reportpb.Report) ([]byte, error) {
		if i, _ := generator.Index(r.Date, r.StationId); i == 1030 {
			return nil, broken
		}
		return v.Encode(r)
	}
	t.Cleanup(func() { encode = (*codec.Values).Encode })
	f := newFixture(t)
	f.startGuard(t)
	m := NewMetrics(prometheus.NewRegistry())
	next, err := f.run(t, context.Background(), Config{Count: 2000, TxnRecords: 500}, 0, m)
	if next != 1000 || !errors.Is(err, broken) {
		t.Fatalf("Run = %d, %v; want 1000 (reports 0-999 committed), the encoding's error", next, err)
	}
	if got := testutil.ToFloat64(m.lastCommitted); got != 999 {
		t.Errorf("last committed index %v, want 999", got)
	}
	exactly(t, f.holds(t), 1000)
}
