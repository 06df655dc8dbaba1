package live

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/dashboard/internal/follow"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

const topic = "temperatures"

// kafka answers with log, and remembers the offsets it was asked about.
type kafka struct {
	mu    sync.Mutex
	log   view.Log
	asked map[int32]int64
}

func (k *kafka) Read(_ context.Context, offsets func(string) map[int32]int64) view.Log {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked = offsets(k.log.TopicID)
	return k.log
}

func (k *kafka) set(f func(*view.Log)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f(&k.log)
}

// fixture is the loop over a follower of a kfake snapshot topic of two
// partitions, and Kafka's facts as the test sets them.
type fixture struct {
	t        *testing.T
	l        *Live
	k        *kafka
	producer *kgo.Client
}

func newLive(t *testing.T, history time.Duration) *fixture {
	t.Helper()
	c := testkit.Cluster(t, kfake.SeedTopics(2, snapshot.Topic(topic)))
	f := follow.New(testkit.Client(t, c, follow.ClientOpts()...), topic, 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	k := &kafka{log: view.Log{Topic: topic, TopicID: "ID1", Partitions: 2, StableOffsets: map[int32]int64{0: 10, 1: 5}}}
	l := New(Config{Topic: topic, Interval: time.Second, History: history}, f, k,
		slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(prometheus.NewRegistry()))
	return &fixture{t: t, l: l, k: k, producer: testkit.Client(t, c, snapshot.ClientOpts()...)}
}

// publish publishes partition p's state at offset of the log id, with one report of station.
func (x *fixture) publish(id string, p int32, offset int64, station string, degrees float64) {
	x.t.Helper()
	s := stats.New(offset)
	if err := s.Add([]byte(station), []byte("2000-01-01"), degrees); err != nil {
		x.t.Fatal(err)
	}
	b, err := s.MarshalJSON()
	if err != nil {
		x.t.Fatal(err)
	}
	x.produce(snapshot.Record(snapshot.Topic(topic), stats.Log{Topic: topic, TopicID: id, Partition: p}, b))
}

func (x *fixture) produce(r *kgo.Record) {
	x.t.Helper()
	if err := x.producer.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		x.t.Fatal(err)
	}
}

// until refreshes until the view satisfies ok, and returns it.
func (x *fixture) until(what string, ok func(view.View) bool) view.View {
	x.t.Helper()
	var v view.View
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		x.l.Refresh(context.Background())
		if err := json.Unmarshal(x.l.Current().View, &v); err != nil {
			x.t.Fatal(err)
		}
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the view never showed %s: %+v", what, v)
		}
	}
}

func TestRefreshShowsTheNewestSnapshots(t *testing.T) {
	x := newLive(t, time.Minute)
	if x.l.Current() != nil {
		t.Fatal("a view before the first refresh")
	}
	x.publish("ID1", 0, 7, "StationA", 1.5)
	v := x.until("partition 0's snapshot", func(v view.View) bool { return len(v.Stations) == 1 })
	if *v.Stations[0].Sum != 1.5 || *v.Partitions[0].Lag != 3 || v.Partitions[1].State != view.StateUnread || v.Partitions[0].CheckpointAgeSeconds == nil {
		t.Fatalf("view = %+v", v)
	}
	if x.k.asked[0] != 7 || len(x.k.asked) != 1 {
		t.Errorf("Kafka was asked about offsets %v, want the snapshot's {0: 7}", x.k.asked)
	}

	// The consumer moves on, and partition 1's newest record does not load.
	x.publish("ID1", 0, 9, "StationA", 2.5)
	x.produce(&kgo.Record{Topic: snapshot.Topic(topic), Partition: 1, Key: snapshot.Key(1), Value: []byte(`{"topic": "temperatures"`)})
	v = x.until("the change", func(v view.View) bool {
		return *v.Partitions[0].Offset == 9 && v.Partitions[1].State == view.StateError
	})
	if *v.Stations[0].Sum != 2.5 || !strings.Contains(v.Partitions[1].Error, "temperatures-snapshots partition 1 offset 0: not a snapshot") || v.Complete {
		t.Fatalf("after the change: %+v", v)
	}
	var stations struct {
		Complete bool           `json:"complete"`
		Stations []view.Station `json:"stations"`
	}
	if err := json.Unmarshal(x.l.Current().Stations, &stations); err != nil || stations.Complete || len(stations.Stations) != 1 {
		t.Errorf("/api/v1/stations = %s (%v)", x.l.Current().Stations, err)
	}
}

// The topic recreated (Kafka says another ID): the old log's snapshots are
// no longer shown, nor kept; the new log's are.
func TestRefreshForgetsTheSnapshotsOfARecreatedTopic(t *testing.T) {
	x := newLive(t, time.Minute)
	x.publish("ID1", 0, 7, "StationA", 1)
	x.publish("ID2", 1, 3, "StationB", 2) // the new log's, before the loop knows of it
	x.until("the old log's snapshot", func(v view.View) bool {
		return v.Partitions[0].State == view.StateOK && v.Partitions[1].State == view.StateUnread
	})
	x.k.set(func(l *view.Log) { l.TopicID, l.StableOffsets = "ID2", map[int32]int64{0: 0, 1: 4} })
	v := x.until("the new log's", func(v view.View) bool {
		return v.TopicID == "ID2" && v.Partitions[0].State == view.StateUnread && v.Partitions[1].State == view.StateOK
	})
	if len(v.Stations) != 1 || v.Stations[0].Station != "StationB" {
		t.Errorf("stations %+v, want StationB only", v.Stations)
	}
	x.publish("ID1", 0, 8, "StationA", 1) // a late writer of the old log
	x.publish("ID2", 1, 4, "StationB", 2) // after it, so that it was read when this shows
	x.until("still not the old log's", func(v view.View) bool {
		return v.Partitions[0].State == view.StateUnread && *v.Partitions[1].Offset == 4
	})
	held, err := x.l.snapshots.Newest(context.Background())
	if old := held.Of(topic, "ID1"); err != nil || len(old) != 0 {
		t.Errorf("the follower still holds the old log's snapshots: %+v (%v)", old, err)
	}
}

func TestHistoryKeepsTheWindowAndSubscribersHearOfEachRefresh(t *testing.T) {
	x := newLive(t, 50*time.Millisecond)
	l := x.l
	x.publish("ID1", 0, 7, "StationA", 1)
	x.until("partition 0's snapshot", func(v view.View) bool { return v.Partitions[0].State == view.StateOK })
	updates, unsubscribe := l.Subscribe()
	for range 3 {
		l.Refresh(context.Background())
	}
	select {
	case <-updates:
	default:
		t.Fatal("no signal after a refresh")
	}
	unsubscribe()
	time.Sleep(60 * time.Millisecond)
	l.Refresh(context.Background()) // the first ones are out of the window now
	var h struct {
		Points []LagPoint `json:"points"`
	}
	b, err := l.History()
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatal(string(b), err)
	}
	if len(h.Points) != 1 || *h.Points[0].Lag["0"] != 3 || h.Points[0].Lag["1"] != nil {
		t.Errorf("history = %s; want one point, lag 3 on partition 0 and null on 1 (no snapshot)", b)
	}
	l.Refresh(context.Background())
	select {
	case <-updates:
		t.Error("a signal after unsubscribing")
	default:
	}
}
