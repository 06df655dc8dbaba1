package live

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/stats"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

// kafka answers with log, and remembers the offsets it was asked about.
type kafka struct {
	log   view.Log
	asked map[int32]int64
}

func (k *kafka) Read(_ context.Context, offsets map[int32]int64) view.Log {
	k.asked = offsets
	return k.log
}

func newLive(t *testing.T, history time.Duration) (*Live, *checkpoint.Store, *kafka) {
	t.Helper()
	store, err := checkpoint.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := &kafka{log: view.Log{Topic: "temperatures", TopicID: "ID1", Partitions: 2, StableOffsets: map[int32]int64{0: 10, 1: 5}}}
	l := New(Config{Topic: "temperatures", Interval: time.Second, History: history}, store, k,
		slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(prometheus.NewRegistry()))
	return l, store, k
}

func save(t *testing.T, store *checkpoint.Store, p int32, offset int64, station string, degrees float64) {
	t.Helper()
	s := stats.New(offset)
	s.Log = &stats.Log{Topic: "temperatures", TopicID: "ID1", Partition: p}
	if err := s.Add([]byte(station), []byte("2000-01-01"), degrees); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(p, s); err != nil {
		t.Fatal(err)
	}
}

func current(t *testing.T, l *Live) view.View {
	t.Helper()
	var v view.View
	if err := json.Unmarshal(l.Current().View, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRefreshShowsTheFilesAsTheyAreNow(t *testing.T) {
	l, store, k := newLive(t, time.Minute)
	if l.Current() != nil {
		t.Fatal("a view before the first refresh")
	}
	save(t, store, 0, 7, "StationA", 1.5)
	l.Refresh(context.Background())
	v := current(t, l)
	if len(v.Stations) != 1 || *v.Stations[0].Sum != 1.5 || *v.Partitions[0].Lag != 3 || v.Partitions[1].State != view.StateUnread {
		t.Fatalf("view = %+v", v)
	}
	if k.asked[0] != 7 || len(k.asked) != 1 {
		t.Errorf("Kafka was asked about offsets %v, want the file's {0: 7}", k.asked)
	}

	// The consumer moves on, and partition 1's file turns out corrupt.
	save(t, store, 0, 9, "StationA", 2.5)
	if err := os.WriteFile(store.Path(1), []byte(`{"offset": 5, "StationB": {"count": 0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Refresh(context.Background())
	v = current(t, l)
	if *v.Stations[0].Sum != 2.5 || *v.Partitions[0].Offset != 9 || v.Partitions[1].State != view.StateError ||
		!strings.Contains(v.Partitions[1].Error, "partition-1.json") || v.Complete {
		t.Fatalf("after the change: %+v", v)
	}
	var stations struct {
		Complete bool           `json:"complete"`
		Stations []view.Station `json:"stations"`
	}
	if err := json.Unmarshal(l.Current().Stations, &stations); err != nil || stations.Complete || len(stations.Stations) != 1 {
		t.Errorf("/api/v1/stations = %s (%v)", l.Current().Stations, err)
	}
}

func TestHistoryKeepsTheWindowAndSubscribersHearOfEachRefresh(t *testing.T) {
	l, store, _ := newLive(t, 50*time.Millisecond)
	save(t, store, 0, 7, "StationA", 1)
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
	l.Refresh(context.Background()) // the first three are out of the window now
	var h struct {
		Points []LagPoint `json:"points"`
	}
	b, err := l.History()
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatal(string(b), err)
	}
	if len(h.Points) != 1 || *h.Points[0].Lag["0"] != 3 || h.Points[0].Lag["1"] != nil {
		t.Errorf("history = %s; want one point, lag 3 on partition 0 and null on 1 (no file)", b)
	}
	l.Refresh(context.Background())
	select {
	case <-updates:
		t.Error("a signal after unsubscribing")
	default:
	}
}
