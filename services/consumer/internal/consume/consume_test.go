package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
	"github.com/weatherstream/weather/services/common/testkit"
)

const topic = "temperatures"

// env is a kfake broker with the topic, a data directory and a log to look at.
type env struct {
	t       *testing.T
	cluster *kfake.Cluster
	admin   *kgo.Client // also publishes snapshots, as main.go's
	adm     *kadm.Client
	dir     string
	logs    *testkit.Buffer
	reg     *prometheus.Registry // the last started consumer's
}

func newEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	c := testkit.Cluster(t, kfake.SeedTopics(partitions, topic))
	e := &env{t: t, cluster: c, dir: t.TempDir(), logs: new(testkit.Buffer)}
	e.admin = testkit.Client(t, c, snapshot.ClientOpts()...)
	e.adm = kadm.NewClient(e.admin)
	return e
}

func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.cluster.ListenAddrs()...)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// produce commits reports [from, to) of the stream in one transaction.
func (e *env) produce(from, to int64) {
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
		cl.Produce(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		e.t.Fatal(err)
	}
}

// write puts records to partition p outside any transaction.
func (e *env) write(p int32, recs ...*kgo.Record) {
	e.t.Helper()
	cl := e.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, r := range recs {
		r.Partition = p
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) config(parts ...int32) Config {
	return Config{Topic: topic, Partitions: parts, OnOutOfRange: OutOfRangeFail, LockWait: time.Second,
		SaveRetries: 1, SaveBackoff: 10 * time.Millisecond, TopicCheckInterval: 200 * time.Millisecond,
		SnapshotInterval: 100 * time.Millisecond, MonitoringGroup: "weather-stats"}
}

func (e *env) start(cfg Config) (*Consumer, *Metrics, error) {
	e.t.Helper()
	store, err := checkpoint.Open(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	m := NewMetrics(e.reg)
	c, err := Start(context.Background(), slog.New(slog.NewTextHandler(e.logs, nil)), e.admin, store, cfg, m)
	if c != nil {
		e.t.Cleanup(c.Close)
	}
	return c, m, err
}

// running is a consumer's Run in the background.
type running struct {
	c      *Consumer
	cancel context.CancelFunc
	done   chan error
}

func (e *env) run(c *Consumer) *running {
	e.t.Helper()
	client := e.client(c.ClientOpts(topic)...)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, client) }()
	e.t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// caughtUp waits until every file of parts holds the partition's end offset.
func (e *env) caughtUp(parts ...int32) {
	e.t.Helper()
	ends, err := kafkaadmin.EndOffsets(context.Background(), e.adm, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	store, _ := checkpoint.Open(e.dir)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		done := true
		for _, p := range parts {
			if f, _ := store.Load(p); f == nil || f.Offset != ends[p] {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("files not at the end offsets %v within 10s; log:\n%s", ends, e.logs)
		}
	}
}

func (e *env) file(p int32) *stats.Partition {
	e.t.Helper()
	store, _ := checkpoint.Open(e.dir)
	f, err := store.Load(p)
	if err != nil || f == nil {
		e.t.Fatalf("partition %d: %v, %v", p, f, err)
	}
	return f
}

// want computes what partition p's file must hold for reports [0, n) with
// plain arithmetic, placing keys as Kafka's default partitioner does.
func want(n int64, partitions int, p int32) map[string]stats.Station {
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	g := generator.New(1)
	out := map[string]stats.Station{}
	for i := range n {
		r := g.Report(i)
		if int32(part.Partition(&kgo.Record{Key: []byte(r.StationId)}, partitions)) != p {
			continue
		}
		s, ok := out[r.StationId]
		d, _ := stats.DateOf(r.Date)
		if !ok {
			s.Start = d
		}
		s.Count++
		s.Sum += r.Degrees
		s.End = d
		out[r.StationId] = s
	}
	return out
}

func equal(t *testing.T, p int32, got *stats.Partition, want map[string]stats.Station) {
	t.Helper()
	if len(got.Stations) != len(want) {
		t.Errorf("partition %d: %d stations, want %d", p, len(got.Stations), len(want))
	}
	for name, w := range want {
		if g := got.Stations[name]; g == nil || *g != w {
			t.Errorf("partition %d %s: %+v, want %+v", p, name, g, w)
		}
	}
}

func TestRunFoldsEveryReportOnceAndCheckpointsTheEndOffset(t *testing.T) {
	e := newEnv(t, 4)
	e.produce(0, 3000)
	c, m, err := e.start(e.config(0, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0, 1, 2, 3)
	e.produce(3000, 5000) // more while it runs
	e.caughtUp(0, 1, 2, 3)
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	r.done <- nil
	id, _ := kafkaadmin.Lookup(context.Background(), e.adm, topic)
	total := 0.0
	for p := range int32(4) {
		f := e.file(p)
		equal(t, p, f, want(5000, 4, p))
		if f.Log == nil || *f.Log != (stats.Log{Topic: topic, TopicID: id.ID(), Partition: p}) {
			t.Errorf("partition %d: log %+v, want %s's", p, f.Log, id.ID())
		}
		total += testutil.ToFloat64(m.records.WithLabelValues(fmt.Sprint(p)))
	}
	if total != 5000 {
		t.Errorf("records metric %v, want 5000", total)
	}
}

// Bad records are stepped over once, each counted by reason (every reason's
// counter exists from the start, at 0); a stat that would stop being finite
// is a bad record too, and the file still loads.
func TestRunStepsOverBadRecords(t *testing.T) {
	e := newEnv(t, 1)
	report := func(station, date string, degrees float64) *kgo.Record {
		v, _ := codec.Encode(nil, &reportpb.Report{Date: date, Degrees: degrees, StationId: station})
		return &kgo.Record{Key: []byte(station), Value: v}
	}
	e.write(0,
		report("StationB", "2000-01-01", 1e308),
		report("StationB", "2000-01-02", 1e308), // the sum would be +Inf
		report("offset", "2000-01-02", 1),       // the file's own key
		&kgo.Record{Key: []byte("StationB"), Value: []byte{0xff}},
		report("StationB", "1999-12-31", 2), // late: start stays the first date seen
	)
	c, m, err := e.start(e.config(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range reasons {
		if n := testutil.ToFloat64(m.skipped.WithLabelValues("0", reason)); n != 0 {
			t.Errorf("skipped{reason=%s} starts at %v", reason, n)
		}
	}
	e.run(c)
	e.caughtUp(0)
	for reason, n := range map[string]float64{"not_finite": 1, "reserved_station": 1, "undecodable": 1} {
		if got := testutil.ToFloat64(m.skipped.WithLabelValues("0", reason)); got != n {
			t.Errorf("skipped{reason=%s} = %v, want %v", reason, got, n)
		}
	}
	b := e.file(0).Stations["StationB"]
	if b.Count != 2 || b.Sum != 1e308+2 || b.Start.String() != "2000-01-01" || b.End.String() != "1999-12-31" {
		t.Errorf("StationB = %+v", *b)
	}
}

// A checkpoint is of one log: another log's (a recreated topic, another
// topic, another partition) is refused with both named, or, with restart,
// kept as a backup while the partition starts afresh. A file of the
// original's format, without a log, is taken and gains it.
func TestStartChecksTheCheckpointsLog(t *testing.T) {
	id := func(e *env) string {
		t, _ := kafkaadmin.Lookup(context.Background(), e.adm, topic)
		return t.ID()
	}
	station := `"StationJ": {"count": 1, "sum": 0, "avg": 0, "start": "2000-01-01", "end": "2000-01-01"}`
	// Partition 1 holds StationJ only: offsets 0-2 are its days 0-2.
	stationToDay2 := `"StationJ": {"count": 1, "sum": 0, "avg": 0, "start": "2000-01-01", "end": "2000-01-03"}`
	tests := []struct {
		name    string
		file    func(e *env) string
		restart bool
		wantErr []string
	}{
		{"a recreated topic's", func(*env) string {
			return `{"offset": 3, "log": {"topic": "temperatures", "topic_id": "AAAAAAAAAAAAAAAAAAAAAg", "partition": 1}, ` + station + `}`
		}, false, []string{"is of another log", "topic temperatures (ID AAAAAAAAAAAAAAAAAAAAAg) partition 1, not topic temperatures (ID", "ON_OFFSET_OUT_OF_RANGE=restart"}},
		{"another partition's", func(e *env) string {
			return fmt.Sprintf(`{"offset": 3, "log": {"topic": "temperatures", "topic_id": %q, "partition": 0}, %s}`, id(e), station)
		}, false, []string{"partition 0, not topic temperatures", "partition 1"}},
		{"another topic's", func(e *env) string {
			return fmt.Sprintf(`{"offset": 3, "log": {"topic": "other", "topic_id": %q, "partition": 1}, %s}`, id(e), station)
		}, false, []string{"topic other"}},
		{"a recreated topic's, restart", func(*env) string {
			return `{"offset": 3, "log": {"topic": "temperatures", "topic_id": "AAAAAAAAAAAAAAAAAAAAAg", "partition": 1}, ` + station + `}`
		}, true, nil},
		{"the original's format", func(*env) string { return `{"offset": 3, ` + stationToDay2 + `}` }, false, nil},
		{"another partition's, copied over this one's", func(*env) string {
			return `{"offset": 3, "StationB": {"count": 1, "sum": 0, "avg": 0, "start": "2000-01-01", "end": "2000-01-01"}}`
		}, false, []string{"is not this partition's stats: the log's last report before offset 3 (offset 2) is of StationJ, which the file does not have", "a file copied from another partition?"}},
		{"this partition's, but not at its offset", func(*env) string { return `{"offset": 3, ` + station + `}` }, false,
			[]string{"the log's last report before offset 3 (offset 2) is StationJ on 2000-01-03, the file's StationJ ends on 2000-01-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 4)
			e.produce(0, 1000)
			content := tt.file(e)
			path := filepath.Join(e.dir, "partition-1.json")
			os.WriteFile(path, []byte(content), 0o644)
			cfg := e.config(1)
			if tt.restart {
				cfg.OnOutOfRange = OutOfRangeRestart
			}
			c, _, err := e.start(cfg)
			if tt.wantErr != nil {
				for _, w := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("Start: %v, want an error with %q", err, w)
					}
				}
				if got, _ := os.ReadFile(path); string(got) != content {
					t.Errorf("the file changed to %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e.run(c)
			e.caughtUp(1)
			f := e.file(1)
			if f.Log == nil || f.Log.TopicID != id(e) || f.Log.Partition != 1 {
				t.Errorf("log %+v, want this topic's partition 1", f.Log)
			}
			backups, _ := filepath.Glob(path + ".bak-*")
			if tt.restart {
				if len(backups) != 1 {
					t.Fatalf("backups %v, want one", backups)
				}
				if got, _ := os.ReadFile(backups[0]); string(got) != content {
					t.Errorf("backup holds %s", got)
				}
				equal(t, 1, f, want(1000, 4, 1)) // counted afresh
				return
			}
			// The file's one report, then the log's from offset 3 on.
			if j := f.Stations["StationJ"]; j.Count != 1+want(1000, 4, 1)["StationJ"].Count-3 || len(backups) > 0 {
				t.Errorf("StationJ %+v, backups %v: want the file's count plus the log's after offset 3", j, backups)
			}
		})
	}
}

// The topic deleted and recreated under a running consumer: Run stops with
// an error that says so, after checkpointing what it had.
func TestRunStopsWhenTheTopicIsRecreated(t *testing.T) {
	e := newEnv(t, 2)
	e.produce(0, 500)
	c, _, err := e.start(e.config(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0, 1)
	before := e.file(0)
	ctx := context.Background()
	if _, err := e.adm.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if _, err := e.adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	e.produce(0, 2000) // the new topic is longer than the old one
	select {
	case err := <-r.done:
		r.done <- err
		if err == nil || !strings.Contains(err.Error(), "was recreated while consuming") && !strings.Contains(err.Error(), "was deleted while consuming") {
			t.Fatalf("Run: %v, want the topic recreated", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("Run still running 15s after the topic was recreated; log:\n%s", e.logs)
	}
	if after := e.file(0); after.Offset != before.Offset || after.Stations["StationB"].Count != before.Stations["StationB"].Count {
		t.Errorf("partition 0 changed from offset %d to %d: counted the new log into the old stats", before.Offset, after.Offset)
	}
}

// Partitions that no consumer reads are warned about, and counted.
func TestRunWarnsAboutPartitionsNobodyReads(t *testing.T) {
	e := newEnv(t, 8)
	cfg := e.config(0, 1)
	cfg.Assigned = []int32{0, 1, 2, 3} // PARTITIONS_BY_ORDINAL gives 2 and 3 to another pod
	c, m, err := e.start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.run(c)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(e.logs.String(), "read by no consumer"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning; log:\n%s", e.logs)
		}
	}
	if !strings.Contains(e.logs.String(), "unread=\"[4 5 6 7]\"") {
		t.Errorf("warning does not name partitions 4 to 7:\n%s", e.logs)
	}
	if n := testutil.ToFloat64(m.unread); n != 4 {
		t.Errorf("unread partitions %v, want 4", n)
	}
}

// SIGTERM (ctx done) cuts the retries of a failing checkpoint short.
func TestShutdownCutsTheCheckpointRetries(t *testing.T) {
	e := newEnv(t, 1)
	e.produce(0, 100)
	cfg := e.config(0)
	cfg.SaveRetries, cfg.SaveBackoff = 5, time.Minute
	c, _, err := e.start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(e.dir) // no directory: every write fails
	r := e.run(c)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(e.logs.String(), "checkpoint failed, retrying"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed checkpoint; log:\n%s", e.logs)
		}
	}
	start := time.Now()
	r.cancel()
	err = <-r.done
	r.done <- err
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("Run after cancel: %v in %s, want it stopped at once", err, time.Since(start))
	}
}

// A retriable answer to the start's offset look-ups is retried, not fatal.
func TestStartRetriesARetriableAnswer(t *testing.T) {
	e := newEnv(t, 4)
	e.produce(0, 100)
	refused := testkit.RefuseListOffsets(e.cluster, 3)
	if _, _, err := e.start(e.config(0, 1, 2, 3)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if *refused != 3 {
		t.Errorf("%d refusals, want 3", *refused)
	}
}

// The topic's watch tells a topic deleted (and not back: two looks a check
// apart) from one recreated (another topic ID), each by its own words.
func TestTopicWatchTellsDeletedFromRecreated(t *testing.T) {
	for _, recreate := range []bool{false, true} {
		t.Run(fmt.Sprintf("recreated %v", recreate), func(t *testing.T) {
			e := newEnv(t, 2)
			ctx := context.Background()
			before, err := kafkaadmin.Lookup(ctx, e.adm, topic)
			if err != nil {
				t.Fatal(err)
			}
			store, _ := checkpoint.Open(e.dir)
			w := newTopicWatch(slog.New(slog.NewTextHandler(e.logs, nil)), e.adm, store, before, e.config(0, 1), NewMetrics(prometheus.NewRegistry()))
			if _, err := e.adm.DeleteTopic(ctx, topic); err != nil {
				t.Fatal(err)
			}
			if recreate {
				if _, err := e.adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
					t.Fatal(err)
				}
			}
			// Looks until one says something (the client's metadata may be
			// up to 100ms old; a missing topic is believed on a second look).
			var got error
			for deadline := time.Now().Add(5 * time.Second); got == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				got = w.check(ctx)
			}
			want := "was deleted while consuming"
			if recreate {
				after, _ := kafkaadmin.Lookup(ctx, e.adm, topic)
				want = fmt.Sprintf("was recreated while consuming (topic ID %s, now %s)", before.ID(), after.ID())
			}
			if got == nil || !strings.Contains(got.Error(), want) {
				t.Errorf("check = %v, want %q", got, want)
			}
		})
	}
}
