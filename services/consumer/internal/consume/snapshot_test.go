package consume

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
)

// publishSnapshot writes a snapshot of partition p (state at offset, the
// stats of reports [0, n) of a 1-partition topic) for log id.
func (e *env) publishSnapshot(p int32, topicID string, state *stats.Partition) {
	e.t.Helper()
	data, err := state.MarshalJSON()
	if err != nil {
		e.t.Fatal(err)
	}
	log := stats.Log{Topic: topic, TopicID: topicID, Partition: p}
	if err := e.admin.ProduceSync(context.Background(), snapshot.Record(snapshot.Topic(topic), log, data)).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) topicID() string {
	e.t.Helper()
	t, err := kafkaadmin.Lookup(context.Background(), e.adm, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	return t.ID()
}

// stateAt is the stats of partition 0 of a 1-partition topic over reports
// [0, n): offsets 0..n-1, the transaction marker at n.
func stateAt(n int64) *stats.Partition {
	part := stats.New(n)
	for name, s := range wantFrom(0, n) {
		part.Stations[name] = &s
	}
	return part
}

// A partition restores from the newest of its file and its snapshot; a
// snapshot of another log (the topic recreated) or one past the log's end is
// passed over; and what it continues from is written at once in the exact
// format, its log beside it. Either way it ends with the stats of the whole
// log.
func TestStartRestoresFromTheNewestOfFileAndSnapshot(t *testing.T) {
	const reports = 500 // one transaction: offsets 0-499, its marker 500
	for _, tc := range []struct {
		name     string
		file     int64 // the file's offset; -1: none
		snapshot int64 // the snapshot's offset; -1: none
		otherLog bool  // the snapshot is of the topic before it was recreated
		wantLog  string
		want     int64 // where it continues
	}{
		{"a lost disk", -1, 300, false, `msg="restored from the snapshot topic" partition=0 offset=300 why="no checkpoint here"`, 300},
		{"a snapshot newer than the file", 100, 300, false, `msg="restored from the snapshot topic" partition=0 offset=300 why="the checkpoint's offset is 100"`, 300},
		{"a file newer than the snapshot", 300, 100, false, `msg="resuming from checkpoint" partition=0 offset=300`, 300},
		{"a snapshot of another log", -1, 300, true, `msg="no checkpoint and no snapshot, starting at the log start"`, 0},
		{"a snapshot past the log's end", 100, 9999, false, `msg="the partition's snapshot does not fit its log; not restored from" partition=0 snapshot_offset=9999`, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			e.produce(0, reports)
			store, _ := checkpoint.Open(e.dir)
			if tc.file >= 0 {
				if err := store.Save(0, stateAt(tc.file)); err != nil {
					t.Fatal(err)
				}
			}
			if err := snapshot.Ensure(context.Background(), slog.New(slog.NewTextHandler(e.logs, nil)), e.adm, kafkaadmin.Topic{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			if tc.snapshot >= 0 {
				id := e.topicID()
				if tc.otherLog {
					id = "AAAAAAAAAAAAAAAAAAAAAg"
				}
				e.publishSnapshot(0, id, stateAt(tc.snapshot))
			}
			c, _, err := e.start(e.config(0))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.logs.String(), tc.wantLog) {
				t.Errorf("log lacks %s:\n%s", tc.wantLog, e.logs)
			}
			if tc.file >= 0 || tc.want > 0 { // a fresh start writes with its first batch
				f := e.file(0)
				if f.Offset != tc.want || f.Log == nil || f.Log.TopicID != e.topicID() {
					t.Errorf("the file at the start: offset %d, log %v; want %d of this topic", f.Offset, f.Log, tc.want)
				}
				if data, _ := os.ReadFile(store.Path(0)); strings.Contains(string(data), `"log"`) {
					t.Errorf("the file is not in the original's format:\n%s", data)
				}
			}
			e.run(c)
			e.caughtUp(0)
			equal(t, 0, e.file(0), wantFrom(0, reports))
		})
	}
}

// While it runs, the consumer publishes each partition's written state to
// the snapshot topic and commits the written offsets to the monitoring
// group; stopped, it publishes the last: the snapshot and the group's
// offset equal the file.
func TestRunPublishesSnapshotsAndTheGroupsOffsets(t *testing.T) {
	e := newEnv(t, 2)
	e.produce(0, 1000)
	c, _, err := e.start(e.config(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0, 1)
	e.produce(1000, 1010) // a last batch, just before the stop
	time.Sleep(50 * time.Millisecond)
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.done <- nil // for the cleanup's wait

	reader := snapshotReader(t, e)
	offsets, err := e.adm.FetchOffsets(context.Background(), "weather-stats")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{0, 1} {
		file := e.file(p)
		snap, err := snapshot.Latest(context.Background(), e.adm, reader, *file.Log)
		if err != nil || snap == nil {
			t.Fatalf("partition %d: snapshot %v, %v", p, snap, err)
		}
		got, _ := snap.State.MarshalJSON()
		want, _ := file.MarshalJSON()
		if string(got) != string(want) {
			t.Errorf("partition %d: the snapshot\n%s\nis not the file\n%s", p, got, want)
		}
		if o, ok := offsets.Lookup(topic, p); !ok || o.At != file.Offset {
			t.Errorf("partition %d: the group's offset %v (%v), want the file's %d", p, o.At, ok, file.Offset)
		}
	}
}

func snapshotReader(t *testing.T, e *env) *logread.Reader {
	t.Helper()
	r, err := logread.New(context.Background(), e.admin, snapshot.Topic(topic))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A state written less than SNAPSHOT_INTERVAL after the last publication,
// with nothing after it (the stream paused or ended), still goes out within
// the interval, the group's offsets too: the dashboard, a restore on another
// node and the lag seen by Kafka's tools get the newest state, not the one
// before. No topic check wakes the loop here: the publication must.
func TestRunPublishesTheLastStateWhenTheStreamPauses(t *testing.T) {
	e := newEnv(t, 1)
	e.produce(0, 1000)
	cfg := e.config(0)
	cfg.SnapshotInterval, cfg.TopicCheckInterval = time.Second, time.Hour
	c, _, err := e.start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0)
	e.produce(1000, 1010) // within the interval of the publication of the first 1000
	e.caughtUp(0)
	file := e.file(0)
	want, _ := file.MarshalJSON()

	reader := snapshotReader(t, e)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got []byte
		snap, err := snapshot.Latest(context.Background(), e.adm, reader, *file.Log)
		if err == nil && snap != nil {
			got, _ = snap.State.MarshalJSON()
		}
		offsets, ferr := e.adm.FetchOffsets(context.Background(), "weather-stats")
		o, ok := offsets.Lookup(topic, 0)
		if string(got) == string(want) && ferr == nil && ok && o.At == file.Offset {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the last write, the snapshot is\n%s\n(%v), the group's offset %d (%v, %v); want the file\n%s\nat offset %d", got, err, o.At, ok, ferr, want, file.Offset)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.done <- nil
}
