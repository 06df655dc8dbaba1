package follow

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
	"github.com/weatherstream/weather/services/common/testkit"
)

const (
	reports = "temperatures"
	current = "3cTCaKIJSUe4hC7pAuO_bA" // the reports topic's ID
	old     = "Yq0wRtBfQvG1z9dWmS2uMw" // its ID before it was recreated
)

var topic = snapshot.Topic(reports)

// rec is a snapshot record: partition p's state at offset of the log with
// ID id, or raw as the value (a record that does not load).
type rec struct {
	p      int32
	id     string
	offset int64
	raw    string
}

func snap(p int32, offset int64) rec    { return rec{p: p, id: current, offset: offset} }
func oldSnap(p int32, offset int64) rec { return rec{p: p, id: old, offset: offset} }
func garbage(p int32, value string) rec { return rec{p: p, raw: value} }
func snaps(p int32, offsets ...int64) []rec {
	return recs(func(o int64) rec { return snap(p, o) }, offsets)
}

func recs(f func(int64) rec, offsets []int64) []rec {
	var out []rec
	for _, o := range offsets {
		out = append(out, f(o))
	}
	return out
}

type env struct {
	t       *testing.T
	cluster *kfake.Cluster
	adm     *kadm.Client
	f       *Follower
	records prometheus.Counter
}

func newEnv(t *testing.T, partitions int) *env {
	t.Helper()
	var opts []kfake.Opt
	if partitions > 0 {
		opts = append(opts, kfake.SeedTopics(int32(partitions), topic))
	}
	c := testkit.Cluster(t, opts...)
	return &env{t: t, cluster: c, adm: kadm.NewClient(testkit.Client(t, c))}
}

// follow starts the follower, looking at the topic every 50ms.
func (e *env) follow() {
	e.t.Helper()
	e.records = prometheus.NewCounter(prometheus.CounterOpts{Name: "records"})
	e.f = New(testkit.Client(e.t, e.cluster, ClientOpts()...), reports, 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), e.records)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.f.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// publish writes rs through a client of its own: one that knows the topic as
// it is now (recreated, grown).
func (e *env) publish(rs ...rec) {
	e.t.Helper()
	producer := testkit.Client(e.t, e.cluster, snapshot.ClientOpts()...)
	for _, r := range rs {
		record := &kgo.Record{Topic: topic, Partition: r.p, Key: snapshot.Key(r.p), Value: []byte(r.raw)}
		if r.raw == "" {
			st := stats.New(r.offset)
			if err := st.Add([]byte("StationA"), []byte("2000-01-01"), float64(r.offset)); err != nil {
				e.t.Fatal(err)
			}
			b, err := st.MarshalJSON()
			if err != nil {
				e.t.Fatal(err)
			}
			record = snapshot.Record(topic, stats.Log{Topic: reports, TopicID: r.id, Partition: r.p}, b)
		}
		if err := producer.ProduceSync(context.Background(), record).FirstErr(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// newest is what the follower holds of the log id, waiting up to 5s for its
// catch-up: per partition "offset N" (and its station's sum, N) or
// "error: …".
func (e *env) newest(id string) map[int32]string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := e.f.Newest(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	got := map[int32]string{}
	for _, s := range h.Of(reports, id) {
		switch {
		case s.Err != nil:
			got[s.Partition] = "error: " + s.Err.Error()
		case s.Time.IsZero() || s.State.Log == nil || s.State.Log.Partition != s.Partition:
			got[s.Partition] = fmt.Sprintf("offset %d without its time or log: %+v", s.State.Offset, s)
		case s.State.Stations["StationA"].Sum != float64(s.State.Offset):
			got[s.Partition] = fmt.Sprintf("offset %d with another's stations", s.State.Offset)
		default:
			got[s.Partition] = fmt.Sprintf("offset %d", s.State.Offset)
		}
	}
	return got
}

// until waits for the follower to hold want of the log id.
func (e *env) until(id string, want map[int32]string) {
	e.t.Helper()
	var got map[int32]string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = e.newest(id); matches(got, want) {
			return
		}
	}
	e.t.Fatalf("the follower holds %v of log %s, want %v", got, id, want)
}

// matches: the same partitions, each "offset N" equal, each error containing want's text after "error: ".
func matches(got, want map[int32]string) bool {
	if len(got) != len(want) {
		return false
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok || g != w && !sameError(g, w) {
			return false
		}
	}
	return true
}

// sameError: both errors, got's containing want's text.
func sameError(got, want string) bool {
	g, gotErr := strings.CutPrefix(got, "error: ")
	w, wantErr := strings.CutPrefix(want, "error: ")
	return gotErr && wantErr && strings.Contains(g, w)
}

func TestFollower(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int   // of the snapshot topic before the follower starts; 0: it does not exist
		before     []rec // in the topic when the follower starts
		want       map[int32]string
		wantRead   int          // records read at start, if not all of before
		then       func(e *env) // once it holds want: the topic changes
		after      []rec        // then published
		wantAfter  map[int32]string
	}{
		{
			name: "newest wins", partitions: 2,
			before:    append(snaps(0, 10, 30, 20), snap(1, 5)), // 20: a late predecessor's, written after 30
			want:      map[int32]string{0: "offset 30", 1: "offset 5"},
			after:     append(snaps(0, 25), snaps(1, 40, 41, 45)...),
			wantAfter: map[int32]string{0: "offset 30", 1: "offset 45"},
		},
		{
			name: "from a few records before the end", partitions: 1,
			before: snaps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20),
			want:   map[int32]string{0: "offset 20"}, wantRead: Window,
		},
		{
			name: "a late older snapshot is ignored", partitions: 1,
			before:    snaps(0, 100),
			want:      map[int32]string{0: "offset 100"},
			after:     snaps(0, 99, 50, 1),
			wantAfter: map[int32]string{0: "offset 100"},
		},
		{
			name: "another log's are ignored", partitions: 2,
			before:    []rec{snap(0, 10), oldSnap(0, 900), oldSnap(1, 7)},
			want:      map[int32]string{0: "offset 10"}, // partition 1: only the old log's, unread
			after:     []rec{oldSnap(0, 1000), snap(1, 3)},
			wantAfter: map[int32]string{0: "offset 10", 1: "offset 3"},
		},
		{
			name: "a record that does not load is its partition's error", partitions: 2,
			before:    []rec{snap(0, 10), garbage(0, "{"), snap(1, 4)},
			want:      map[int32]string{0: "error: " + topic + " partition 0 offset 1: not a snapshot", 1: "offset 4"},
			after:     []rec{snap(0, 12), garbage(1, `{"topic": "temperatures", "topic_id": "", "partition": 0, "state": {"offset": 1}}`)},
			wantAfter: map[int32]string{0: "offset 12", 1: "error: " + topic + " partition 1 offset 1 holds the snapshot of partition 0"},
		},
		{
			name: "the topic appears later",
			want: map[int32]string{},
			then: func(e *env) {
				if _, err := e.adm.CreateTopic(context.Background(), 2, 1, snapshot.Configs(), topic); err != nil {
					e.t.Fatal(err)
				}
			},
			after:     []rec{snap(1, 8), snap(0, 3)},
			wantAfter: map[int32]string{0: "offset 3", 1: "offset 8"},
		},
		{
			name: "partitions added", partitions: 2,
			before: []rec{snap(0, 1), snap(1, 2)},
			want:   map[int32]string{0: "offset 1", 1: "offset 2"},
			then: func(e *env) {
				if _, err := e.adm.UpdatePartitions(context.Background(), 4, topic); err != nil {
					e.t.Fatal(err)
				}
			},
			after:     []rec{snap(3, 6), snap(2, 5)},
			wantAfter: map[int32]string{0: "offset 1", 1: "offset 2", 2: "offset 5", 3: "offset 6"},
		},
		{
			name: "the topic recreated: what was read of the old one is forgotten", partitions: 2,
			before: []rec{snap(0, 50), snap(1, 60)},
			want:   map[int32]string{0: "offset 50", 1: "offset 60"},
			then: func(e *env) {
				ctx := context.Background()
				if _, err := e.adm.DeleteTopic(ctx, topic); err != nil {
					e.t.Fatal(err)
				}
				e.until(current, map[int32]string{}) // seen gone
				if _, err := e.adm.CreateTopic(ctx, 2, 1, snapshot.Configs(), topic); err != nil {
					e.t.Fatal(err)
				}
			},
			after:     []rec{snap(1, 2)},
			wantAfter: map[int32]string{1: "offset 2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.partitions)
			e.publish(tc.before...)
			e.follow()
			// The first look waits for the catch-up: no polling needed.
			if got := e.newest(current); !matches(got, tc.want) {
				t.Fatalf("at start the follower holds %v, want %v", got, tc.want)
			}
			if read, want := testutil.ToFloat64(e.records), float64(cmp.Or(tc.wantRead, len(tc.before))); read != want {
				t.Errorf("%v records read at start, want %v", read, want)
			}
			if tc.then == nil && tc.after == nil {
				return
			}
			if tc.then != nil {
				tc.then(e)
			}
			e.publish(tc.after...)
			e.until(current, tc.wantAfter)
		})
	}
}

// The reports topic recreated: the loop tells the follower to forget the
// old log, whose snapshots are then dropped, and ignored when more come.
func TestForgetDropsALogForGood(t *testing.T) {
	e := newEnv(t, 1)
	e.publish(oldSnap(0, 70), snap(0, 3))
	e.follow()
	if got := e.newest(old); !matches(got, map[int32]string{0: "offset 70"}) {
		t.Fatalf("the old log's: %v", got)
	}
	e.f.Forget(old)
	e.publish(oldSnap(0, 80), snap(0, 4))
	e.until(current, map[int32]string{0: "offset 4"})
	if got := e.newest(old); len(got) != 0 {
		t.Errorf("the forgotten log's snapshots: %v, want none", got)
	}
}
