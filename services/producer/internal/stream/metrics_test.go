package stream

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/streamid"
)

// What the producer's metrics say after a run: the last report committed and
// when, how long commits take, and whether the stream reached COUNT.
func TestRunMetrics(t *testing.T) {
	tests := []struct {
		name         string
		cfg          Config
		from         int64
		stop         time.Duration                  // cancel after this long; 0: never
		before       func(t *testing.T, f *fixture) // another writer, once the producer has started
		wantErr      bool
		wantLast     func(next int64) float64
		wantCommits  func(next int64) uint64 // transactions, and commit durations observed
		wantDone     float64
		wantCommitAt bool // a commit time of this run
	}{
		{"up to COUNT", Config{Count: 1000, TxnRecords: 100}, 0, 0, nil, false,
			func(int64) float64 { return 999 }, func(int64) uint64 { return 10 }, 1, true},
		{"resumed where COUNT is reached", Config{Count: 1000, TxnRecords: 100}, 1000, 0, nil, false,
			func(int64) float64 { return 999 }, func(int64) uint64 { return 0 }, 1, false},
		{"resumed, then up to COUNT", Config{Count: 1000, TxnRecords: 100}, 500, 0, nil, false,
			func(int64) float64 { return 999 }, func(int64) uint64 { return 5 }, 1, true},
		{"stopped before COUNT", Config{Count: 1 << 40, Interval: 100 * time.Microsecond, TxnRecords: 1 << 30}, 0, 200 * time.Millisecond, nil, false,
			func(next int64) float64 { return float64(next - 1) }, func(int64) uint64 { return 1 }, 0, true},
		{"a second producer's records: aborted", Config{Count: 100, TxnRecords: 50}, 0, 0, func(t *testing.T, f *fixture) {
			other := f.newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			rec := &kgo.Record{Partition: 2, Key: []byte("StationC"), Value: []byte("x"), Headers: streamid.ID{Producer: "second-producer", Seed: 3}.Headers()}
			if err := other.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}, true, func(int64) float64 { return -1 }, func(int64) uint64 { return 0 }, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.startGuard(t)
			if tt.before != nil {
				tt.before(t, f)
			}
			m := NewMetrics(prometheus.NewRegistry())
			if got := testutil.ToFloat64(m.lastCommitted); got != -1 {
				t.Errorf("last committed index before the run: %v, want -1", got)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.stop > 0 {
				time.AfterFunc(tt.stop, cancel)
			}
			began := time.Now()
			next, err := f.run(t, ctx, tt.cfg, tt.from, m)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run = %d, %v; want an error: %v", next, err, tt.wantErr)
			}
			if got, want := testutil.ToFloat64(m.lastCommitted), tt.wantLast(next); got != want {
				t.Errorf("last committed index %v, want %v", got, want)
			}
			if got := testutil.ToFloat64(m.done); got != tt.wantDone {
				t.Errorf("done %v, want %v", got, tt.wantDone)
			}
			commits := tt.wantCommits(next)
			if got := testutil.ToFloat64(m.transactions); uint64(got) != commits {
				t.Errorf("%v transactions, want %d", got, commits)
			}
			if got := histogramCount(t, m.commitSeconds); got != commits {
				t.Errorf("%d commit durations observed, want %d", got, commits)
			}
			at := testutil.ToFloat64(m.lastCommitAt)
			if tt.wantCommitAt && (at < float64(began.UnixNano())/1e9 || at > float64(time.Now().UnixNano())/1e9) {
				t.Errorf("last commit at %v, want during the run (from %v)", at, float64(began.UnixNano())/1e9)
			}
			if !tt.wantCommitAt && at != 0 {
				t.Errorf("last commit at %v, want 0: this run committed nothing", at)
			}
		})
	}
}

func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(h)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	return mfs[0].GetMetric()[0].GetHistogram().GetSampleCount()
}
