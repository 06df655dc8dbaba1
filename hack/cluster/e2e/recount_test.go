package e2e

import (
	"maps"
	"testing"

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

func TestDashboardChecks(t *testing.T) {
	ptr := func(n int64) *int64 { return &n }
	view := func() Dashboard {
		var d Dashboard
		stations := `{"time": "2026-12-02T01:02:03.456Z", "complete": true, "stations": [
			{"station": "StationA", "count": 2, "sum": 61.25, "avg": 30.625, "start": "2000-01-01", "end": "2000-01-02", "partitions": [1]},
			{"station": "StationB", "count": 1, "sum": 3.5, "avg": 3.5, "start": "2000-01-01", "end": "2000-01-01", "partitions": [0]}]}`
		partitions := `{"time": "2026-12-02T01:02:03.456Z", "topic": "temperatures", "topic_id": "ID", "unread": [], "partitions": [
			{"partition": 0, "state": "ok", "offset": 2, "log_end": 9, "lag": 7, "stations": 1,
			 "log": {"topic": "temperatures", "topic_id": "ID", "partition": 0}, "checkpoint_age_seconds": 0.5},
			{"partition": 1, "state": "ok", "offset": 3, "log_end": 3, "lag": 0, "stations": 1,
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
	if err := CheckDashboardPartitions(d, 2, "temperatures", "ID", files); err != nil {
		t.Errorf("a good view refused: %v", err)
	}
	for name, bad := range map[string]func(d *Dashboard){
		"behind the files": func(d *Dashboard) { d.Partitions.Partitions[1].Offset = ptr(1) },
		"error state":      func(d *Dashboard) { d.Partitions.Partitions[0].State = "error" },
		"unread":           func(d *Dashboard) { d.Partitions.Unread = []int32{2} },
		"kafka error":      func(d *Dashboard) { d.Partitions.KafkaError = "down" },
		"no log end":       func(d *Dashboard) { d.Partitions.Partitions[0].LogEnd = nil },
		"wrong lag":        func(d *Dashboard) { d.Partitions.Partitions[0].Lag = ptr(6) },
		"other log":        func(d *Dashboard) { d.Partitions.Partitions[1].Log.TopicID = "old" },
		"missing row":      func(d *Dashboard) { d.Partitions.Partitions = d.Partitions.Partitions[:1] },
		"incomplete":       func(d *Dashboard) { d.Stations.Complete = false },
	} {
		d := view()
		bad(&d)
		if err := CheckDashboardPartitions(d, 2, "temperatures", "ID", files); err == nil {
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
