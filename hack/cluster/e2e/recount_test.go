package e2e

import (
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
