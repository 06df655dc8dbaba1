package consume

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
)

// The lag bookkeeping, event by event, on a clock of its own: what a scrape
// shows after a start, fetches, checkpoints in flight and written.
func TestPartitionLag(t *testing.T) {
	at := func(s float64) time.Time { return time.Unix(0, int64(s*1e9)) }
	type step func(l *partitionLag, clock *time.Time)
	start := func(file, end int64, written float64) step {
		return func(l *partitionLag, _ *time.Time) {
			var w time.Time
			if written > 0 {
				w = at(written)
			}
			l.start(file, end, w)
		}
	}
	fetched := func(ts float64) step {
		return func(l *partitionLag, _ *time.Time) {
			if ts == 0 {
				l.fetched(time.Time{})
				return
			}
			l.fetched(at(ts))
		}
	}
	end := func(o int64) step { return func(l *partitionLag, _ *time.Time) { l.end(o) } }
	checkpointing := func(o int64) step { return func(l *partitionLag, _ *time.Time) { l.checkpointing(o) } }
	written := func(s float64) step { return func(l *partitionLag, _ *time.Time) { l.written(at(s)) } }
	writtenAll := func(o int64, s float64) step { return func(l *partitionLag, _ *time.Time) { l.writtenAll(o, at(s)) } }
	clock := func(s float64) step { return func(_ *partitionLag, c *time.Time) { *c = at(s) } }

	tests := []struct {
		name  string
		steps []step // the clock starts at 1000
		now   float64
		want  lagValues
	}{
		{"a file at the log end", []step{start(100, 100, 900)}, 1005,
			lagValues{logEnd: 100, records: 0, seconds: 0, checkpoint: 900}},
		{"no file, behind, nothing fetched yet: at least since the start", []step{start(0, 100, 0)}, 1005,
			lagValues{logEnd: 100, records: 100, seconds: 5, checkpoint: 0}},
		{"fetched, not written yet: the first record's age", []step{start(0, 100, 0), fetched(950), end(100)}, 1000,
			lagValues{logEnd: 100, records: 100, seconds: 50}},
		{"the checkpoint in flight is not in the file", []step{start(0, 100, 0), fetched(950), end(100), checkpointing(60), fetched(980)}, 1000,
			lagValues{logEnd: 100, records: 100, seconds: 50}},
		{"written: the age of the first record after it", []step{start(0, 100, 0), fetched(950), checkpointing(60), fetched(980), clock(1001), written(1001)}, 1002,
			lagValues{logEnd: 100, records: 40, seconds: 22, checkpoint: 1001}},
		{"written at the log end: caught up", []step{start(0, 100, 0), fetched(950), checkpointing(100), written(1001)}, 1010,
			lagValues{logEnd: 100, records: 0, seconds: 0, checkpoint: 1001}},
		{"the log moved on during the write", []step{start(0, 100, 0), fetched(950), checkpointing(100), fetched(990), end(150), written(1001)}, 1010,
			lagValues{logEnd: 150, records: 50, seconds: 20, checkpoint: 1001}},
		{"the log moved on, nothing after the checkpoint fetched yet", []step{start(0, 100, 0), fetched(950), checkpointing(100), written(1001),
			clock(1003), end(150)}, 1010, lagValues{logEnd: 150, records: 50, seconds: 7, checkpoint: 1001}},
		{"a retry writes all that was fetched", []step{start(0, 100, 0), fetched(950), checkpointing(60), fetched(980), writtenAll(100, 1005)}, 1010,
			lagValues{logEnd: 100, records: 0, seconds: 0, checkpoint: 1005}},
		{"stuck: the age keeps growing", []step{start(0, 100, 0), fetched(950)}, 4600,
			lagValues{logEnd: 100, records: 100, seconds: 3650}},
		{"a broker's clock ahead of ours", []step{start(0, 100, 0), fetched(1030)}, 1000,
			lagValues{logEnd: 100, records: 100, seconds: 0}},
		{"a record without a timestamp: since the start", []step{start(0, 100, 0), fetched(0)}, 1004,
			lagValues{logEnd: 100, records: 100, seconds: 4}},
		{"caught up, then behind again", []step{start(0, 100, 0), fetched(950), checkpointing(100), written(1001), fetched(1002), end(120)}, 1010,
			lagValues{logEnd: 120, records: 20, seconds: 8, checkpoint: 1001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := at(1000)
			l := &partitionLag{now: func() time.Time { return now }}
			for _, s := range tt.steps {
				s(l, &now)
			}
			got := l.values(at(tt.now))
			if got.logEnd != tt.want.logEnd || got.records != tt.want.records ||
				math.Abs(got.seconds-tt.want.seconds) > 1e-6 || math.Abs(got.checkpoint-tt.want.checkpoint) > 1e-6 {
				t.Errorf("values = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// produceAt commits reports [from, to) in one transaction, every record
// stamped ts (as a producer whose reports sat in the log that long).
func (e *env) produceAt(from, to int64, ts time.Time) {
	e.t.Helper()
	cl := e.client(kgo.DefaultProduceTopic(topic), kgo.TransactionalID("test-producer"))
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		e.t.Fatal(err)
	}
	g := generator.New(1)
	for i := from; i < to; i++ {
		r := g.Report(i)
		v, _ := codec.Encode(nil, r)
		cl.Produce(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v, Timestamp: ts}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		e.t.Fatal(err)
	}
}

// series returns metric name's value per partition label in e's registry.
func (e *env) series(name string) map[string]float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == partitionLabel {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// lag is one partition's four lag metrics as scraped.
type lag struct{ end, records, seconds, checkpoint float64 }

func (e *env) lag() map[int32]lag {
	e.t.Helper()
	ends, records := e.series("weather_consumer_log_end_offset"), e.series("weather_consumer_lag_records")
	seconds, checkpoints := e.series("weather_consumer_lag_seconds"), e.series("weather_consumer_last_checkpoint_timestamp_seconds")
	out := map[int32]lag{}
	for label, end := range ends {
		var p int32
		fmt.Sscan(label, &p)
		out[p] = lag{end, records[label], seconds[label], checkpoints[label]}
	}
	return out
}

func (e *env) stableOffsets() map[int32]int64 {
	e.t.Helper()
	stable, err := kafkaadmin.StableOffsets(context.Background(), e.adm, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	return stable
}

// Caught up, every partition's file is at the log end: no lag in records or
// seconds, and the last checkpoint was just now.
func TestLagMetricsOfAConsumerCaughtUp(t *testing.T) {
	e := newEnv(t, 4)
	e.produce(0, 3000)
	begin := time.Now()
	c, _, err := e.start(e.config(0, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	// From the start, before a fetch: every partition's series, behind.
	stable := e.stableOffsets()
	for p := range int32(4) {
		if got := e.lag()[p]; got.end != float64(stable[p]) || got.records != float64(stable[p]) || got.checkpoint != 0 {
			t.Errorf("partition %d at the start: %+v, want log end = lag = %d, no checkpoint", p, got, stable[p])
		}
	}
	e.run(c)
	e.caughtUp(0, 1, 2, 3)
	e.produce(3000, 4000)
	e.caughtUp(0, 1, 2, 3)
	stable = e.stableOffsets()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok := true
		lags := e.lag()
		for p := range int32(4) {
			got := lags[p]
			ok = ok && got.end == float64(stable[p]) && got.records == 0 && got.seconds == 0 &&
				got.checkpoint >= float64(begin.UnixNano())/1e9 && got.checkpoint <= float64(time.Now().UnixNano())/1e9
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag %+v, want log end = the stable offsets %v, no lag, a checkpoint since %s", lags, stable, begin)
		}
	}
	if len(e.lag()) != 4 {
		t.Errorf("lag series of %d partitions, want 4", len(e.lag()))
	}
}

// A consumer behind its log: at the start, lag_records is the log end minus
// the file's offset and the last checkpoint the file's time; once it has
// fetched reports an hour old that it cannot write (the directory is gone),
// lag_seconds is their age, and grows from scrape to scrape while it is
// stuck retrying; the retry that succeeds catches it up.
func TestLagMetricsOfAConsumerBehindItsLog(t *testing.T) {
	e := newEnv(t, 1)
	e.produce(0, 500)
	c, _, err := e.start(e.config(0))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0)
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.done <- nil
	c.Close()
	file := e.file(0).Offset
	fi, err := os.Stat(c.store.Path(0))
	if err != nil {
		t.Fatal(err)
	}

	hourAgo := time.Now().Add(-time.Hour)
	e.produceAt(500, 1500, hourAgo)
	cfg := e.config(0)
	cfg.SaveRetries, cfg.SaveBackoff = 5, 3*time.Second
	c, m, err := e.start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	end := e.stableOffsets()[0]
	got := e.lag()[0]
	if got.end != float64(end) || got.records != float64(end-file) || got.seconds > 5 ||
		got.checkpoint != float64(fi.ModTime().UnixNano())/1e9 {
		t.Errorf("at the start: %+v, want log end %d, lag %d records, < 5 s (nothing fetched yet), checkpoint at the file's time %s",
			got, end, end-file, fi.ModTime())
	}

	os.RemoveAll(e.dir) // every checkpoint fails from now on
	e.run(c)
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(m.offset.WithLabelValues("0")) < float64(end) ||
		!strings.Contains(e.logs.String(), "checkpoint failed, retrying"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not fetched to the end with a failed checkpoint within 10s; log:\n%s", e.logs)
		}
	}
	first := e.lag()[0]
	age := time.Since(hourAgo).Seconds()
	if first.end != float64(end) || first.records != float64(end-file) || first.seconds < age-1 || first.seconds > age+1 {
		t.Errorf("stuck: %+v, want log end %d, lag %d records, %.0f s", first, end, end-file, age)
	}
	time.Sleep(1100 * time.Millisecond)
	if later := e.lag()[0]; later.seconds-first.seconds < 1 || later.records != first.records {
		t.Errorf("a second later: %+v, was %+v; want lag_seconds a second older, the same records", later, first)
	}

	// The disk back, the retry writes everything fetched: caught up.
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := e.lag()[0]
		if got.records == 0 && got.seconds == 0 && got.checkpoint >= float64(back.UnixNano())/1e9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the retry: %+v, want no lag and a checkpoint since %s; log:\n%s", got, back, e.logs)
		}
	}
}

// The lag series are made for every owned partition when the consumer
// starts, each at its value, not only once a partition has moved.
func TestLagMetricsExistForEveryPartitionFromTheStart(t *testing.T) {
	e := newEnv(t, 8)
	if _, _, err := e.start(e.config(1, 4, 6)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"weather_consumer_log_end_offset", "weather_consumer_lag_records", "weather_consumer_lag_seconds",
		"weather_consumer_last_checkpoint_timestamp_seconds", "weather_consumer_offset"} {
		got := e.series(name)
		want := map[string]float64{"1": 0, "4": 0, "6": 0}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(e.reg, "weather_consumer_records_skipped_total"); err != nil || n != 3*len(reasons) {
		t.Errorf("skipped series %d (%v), want %d: every reason of every partition", n, err, 3*len(reasons))
	}
}
