package e2e

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
)

// The parts of the e2e test that need no cluster.

func TestParseDebugLine(t *testing.T) {
	l, ok := ParseDebugLine("{'station_id': 'StationC', 'date': '2000-01-03', 'degrees': 35.2621, 'partition': 2}\n")
	if !ok || l != (DebugLine{Station: "StationC", Date: "2000-01-03", Degrees: 35.2621, Partition: 2}) {
		t.Fatalf("got %+v, %v", l, ok)
	}
	for _, bad := range []string{"", "time=... level=INFO msg=consuming", "{'station_id': 'StationC'}"} {
		if _, ok := ParseDebugLine(bad); ok {
			t.Errorf("%q parsed as a report line", bad)
		}
	}
	// A line with the generated value passes the stream check; another fails.
	r := generator.New(1).Report(12) // StationC, day 1
	good := DebugLine{Station: r.StationId, Date: r.Date, Degrees: r.Degrees, Partition: 2}
	if err := CheckDebugLine(good, 1); err != nil {
		t.Errorf("generated report rejected: %v", err)
	}
	good.Degrees++
	if CheckDebugLine(good, 1) == nil {
		t.Error("wrong degrees accepted")
	}
}

func TestParseFileAndCompare(t *testing.T) {
	f, err := parseFile([]byte(`{
  "offset": 6816,
  "log": {"topic": "temperatures", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 0},
  "StationB": {"count": 2, "sum": 66.25, "avg": 33.125, "start": "2000-01-01", "end": "2000-01-02"}
}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Station{Count: 2, Sum: 66.25, Start: "2000-01-01", End: "2000-01-02"}
	if f.Offset != 6816 || f.Stations["StationB"] != want || len(f.Stations) != 1 || f.Log.TopicID != "3cTCaKIJSUe4hC7pAuO_bA" {
		t.Fatalf("got %+v", f)
	}
	files := map[int32]File{0: f}
	rc := &Recount{Stations: map[int32]map[string]Station{0: {"StationB": want}}}
	if d := Compare(files, rc); len(d) != 0 {
		t.Errorf("equal stats differ: %v", d)
	}
	rc.Stations[0]["StationB"] = Station{Count: 3, Sum: 66.25, Start: "2000-01-01", End: "2000-01-02"}
	rc.Stations[0]["StationD"] = want
	if d := Compare(files, rc); len(d) != 2 {
		t.Errorf("want 2 differences, got %v", d)
	}
	if _, err := parseFile([]byte(`{"offset": 1, "StationB": {"count": 2, "sum": 4, "avg": 3, "start": "x", "end": "y"}}`)); err == nil {
		t.Error("avg != sum/count accepted")
	}
}

func TestEvenAssignment(t *testing.T) {
	for _, c := range []struct {
		replicas, partitions int
		want                 string
	}{{2, 4, "0,2;1,3"}, {3, 4, "0,3;1;2"}, {1, 4, "0,1,2,3"}, {5, 4, "0;1;2;3"}} {
		if got := evenAssignment(c.replicas, c.partitions); got != c.want {
			t.Errorf("evenAssignment(%d, %d) = %q, want %q", c.replicas, c.partitions, got, c.want)
		}
	}
}

// TestRecountCuts: the recount keeps the stats below every offset asked for
// (the files' and the dashboard's), counts only the records below the
// files', and checks the stream, on a broker of transactions with markers.
func TestRecountCuts(t *testing.T) {
	const topic = "temperatures"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("recount-test"),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	gen := generator.New(1)
	// Three transactions of a day each: stations with an even index to
	// partition 0, odd to 1; 5 reports and a commit marker per partition
	// and day, so day d is offsets 6d..6d+4, its marker 6d+5.
	const days = 3
	for i := range days * generator.NumStations {
		if i%generator.NumStations == 0 {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		r := gen.Report(i)
		v, err := codec.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v, Partition: int32(i % 2)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if i%generator.NumStations == generator.NumStations-1 {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	// fold: the stats of partition p's stations over the first n days.
	fold := func(p int32, n int64) map[string]Station {
		m := map[string]Station{}
		for i := range n * generator.NumStations {
			if int32(i%2) != p {
				continue
			}
			r := gen.Report(i)
			s, ok := m[r.StationId]
			if !ok {
				s.Start = r.Date
			}
			s.Count++
			s.Sum += r.Degrees
			s.End = r.Date
			m[r.StationId] = s
		}
		return m
	}

	k := Kafka{Bootstrap: c.ListenAddrs()[0], DNS: "127.0.0.1:1", Topic: topic}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	files := map[int32]int64{0: 6, 1: 12} // after day 0's marker; after day 1's
	rc, err := k.Recount(ctx, files, 1, map[int32]int64{0: 18, 1: 12}, map[int32]int64{0: 11}, map[int32]int64{0: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.StreamErrors) > 0 {
		t.Errorf("stream errors: %v", rc.StreamErrors)
	}
	for _, w := range []struct {
		p          int32
		below      int64
		days       int64
		inStations bool
	}{
		{0, 6, 1, true}, {0, 18, 3, false}, {0, 11, 2, false}, {0, 0, 0, false}, {1, 12, 2, true},
	} {
		if got, want := rc.At[w.p][w.below], fold(w.p, w.days); !maps.Equal(got, want) {
			t.Errorf("partition %d below %d: %v, want %v", w.p, w.below, got, want)
		}
		if w.inStations && !maps.Equal(rc.Stations[w.p], fold(w.p, w.days)) {
			t.Errorf("partition %d: Stations %v, want the stats below the file's offset %d", w.p, rc.Stations[w.p], w.below)
		}
	}
	if want := (map[int32]int64{0: 5, 1: 10}); !maps.Equal(rc.Records, want) {
		t.Errorf("records %v, want %v (below the files' offsets only)", rc.Records, want)
	}
	if want := (map[int32]int64{0: 1, 1: 2}); !maps.Equal(rc.Controls, want) {
		t.Errorf("transaction markers %v, want %v", rc.Controls, want)
	}
}

func TestDashboardChecks(t *testing.T) {
	ptr := func(n int64) *int64 { return &n }
	view := func() Dashboard {
		var d Dashboard
		stations := `{"time": "2026-12-02T01:02:03.456Z", "complete": true, "stations": [
			{"station": "StationA", "count": 2, "sum": 61.25, "avg": 30.625, "start": "2000-01-01", "end": "2000-01-02", "partitions": [1]},
			{"station": "StationB", "count": 1, "sum": 3.5, "avg": 3.5, "start": "2000-01-01", "end": "2000-01-01", "partitions": [0]}]}`
		partitions := `{"time": "2026-12-02T01:02:03.456Z", "topic": "temperatures", "topic_id": "ID", "unread": [], "partitions": [
			{"partition": 0, "state": "ok", "file": "partition-0.json", "offset": 2, "log_end": 9, "lag": 7, "owned": true, "stations": 1,
			 "log": {"topic": "temperatures", "topic_id": "ID", "partition": 0}, "checkpoint_age_seconds": 0.5},
			{"partition": 1, "state": "ok", "file": "partition-1.json", "offset": 3, "log_end": 3, "lag": 0, "owned": true, "stations": 1,
			 "log": {"topic": "temperatures", "topic_id": "ID", "partition": 1}, "newest_report_age_seconds": null}]}`
		d, err := ParseDashboard([]byte(stations), []byte(partitions))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if _, err := ParseDashboard([]byte(`{"time": "a"}`), []byte(`{"time": "b"}`)); err == nil {
		t.Error("responses of two views taken for one")
	}
	d := view()
	if got := d.Offsets(); !maps.Equal(got, map[int32]int64{0: 2, 1: 3}) {
		t.Errorf("offsets %v", got)
	}
	files := map[int32]int64{0: 2, 1: 2}
	if err := CheckDashboardPartitions(d, 2, "temperatures", "ID", files, true); err != nil {
		t.Errorf("a good view refused: %v", err)
	}
	for name, bad := range map[string]func(d *Dashboard) (owned bool){
		"behind the files": func(d *Dashboard) bool { d.Partitions.Partitions[1].Offset = ptr(1); return true },
		"not owned":        func(d *Dashboard) bool { return false },
		"error state":      func(d *Dashboard) bool { d.Partitions.Partitions[0].State = "error"; return true },
		"unread":           func(d *Dashboard) bool { d.Partitions.Unread = []int32{2}; return true },
		"kafka error":      func(d *Dashboard) bool { d.Partitions.KafkaError = "down"; return true },
		"no log end":       func(d *Dashboard) bool { d.Partitions.Partitions[0].LogEnd = nil; return true },
		"wrong lag":        func(d *Dashboard) bool { d.Partitions.Partitions[0].Lag = ptr(6); return true },
		"other log":        func(d *Dashboard) bool { d.Partitions.Partitions[1].Log.TopicID = "old"; return true },
		"missing row": func(d *Dashboard) bool {
			d.Partitions.Partitions = d.Partitions.Partitions[:1]
			return true
		},
		"incomplete": func(d *Dashboard) bool { d.Stations.Complete = false; return true },
	} {
		d := view()
		if err := CheckDashboardPartitions(d, 2, "temperatures", "ID", files, bad(&d)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	rc := &Recount{At: map[int32]map[int64]map[string]Station{
		0: {2: {"StationB": {Count: 1, Sum: 3.5, Start: "2000-01-01", End: "2000-01-01"}}},
		1: {3: {"StationA": {Count: 2, Sum: 61.25, Start: "2000-01-01", End: "2000-01-02"}}},
	}}
	if diffs := CompareDashboard(d, rc); len(diffs) != 0 {
		t.Errorf("equal stations differ: %v", diffs)
	}
	rc.At[1][3]["StationA"] = Station{Count: 2, Sum: 61.250000001, Start: "2000-01-01", End: "2000-01-02"}
	rc.At[0][2]["StationC"] = Station{Count: 1, Sum: 1, Start: "2000-01-01", End: "2000-01-01"}
	if diffs := CompareDashboard(d, rc); len(diffs) != 2 {
		t.Errorf("want 2 differences (a sum, a missing station), got %v", diffs)
	}
	d.Stations.Stations[0].Partitions = []int32{0, 1}
	d.Stations.Stations[1].Avg = 3
	rc.At[1][3]["StationA"] = Station{Count: 2, Sum: 61.25, Start: "2000-01-01", End: "2000-01-02"}
	delete(rc.At[0][2], "StationC")
	if diffs := CompareDashboard(d, rc); len(diffs) != 2 {
		t.Errorf("want 2 differences (partitions, avg), got %v", diffs)
	}
}
