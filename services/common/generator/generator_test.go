package generator

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/weatherstream/weather/proto/reportpb"
)

func TestFillFollowsTheOriginalStream(t *testing.T) {
	g := New(1)
	tests := []struct {
		index   int64
		date    string
		station string
		degrees float64 // NaN: drawn at random, checked elsewhere
	}{
		{0, "2000-01-01", "StationA", math.NaN()},
		{8, "2000-01-01", "StationI", 5},
		{9, "2000-01-01", "StationJ", 0},
		{10, "2000-01-02", "StationA", math.NaN()},
		{19, "2000-01-02", "StationJ", 1},
		{109, "2000-01-11", "StationJ", 0},
		{599, "2000-02-29", "StationJ", 9}, // leap day, day 59
		{3669, "2001-01-01", "StationJ", 6},
	}
	for _, tt := range tests {
		var r reportpb.Report
		g.Fill(tt.index, &r)
		if r.Date != tt.date || r.StationId != tt.station {
			t.Errorf("Fill(%d) = %s %s, want %s %s", tt.index, r.Date, r.StationId, tt.date, tt.station)
		}
		if !math.IsNaN(tt.degrees) && r.Degrees != tt.degrees {
			t.Errorf("Fill(%d) degrees = %v, want %v", tt.index, r.Degrees, tt.degrees)
		}
	}
}

func TestSameSeedSameStreamInAnyOrder(t *testing.T) {
	forward, random := New(42), New(42)
	want := make([]float64, 1000)
	for i := range want {
		want[i] = forward.Report(int64(i)).Degrees
	}
	for _, i := range []int64{999, 0, 500, 501, 10, 3, 998} {
		if got := random.Report(i).Degrees; got != want[i] {
			t.Errorf("index %d: got %v out of order, %v in order", i, got, want[i])
		}
	}
	if New(43).Report(0).Degrees == want[0] {
		t.Error("seeds 42 and 43 gave the same first report")
	}
}

func TestRandomStationsAreNormal30Sd15(t *testing.T) {
	g := New(7)
	var n, sum, sumSq float64
	for i := int64(0); i < 100_000; i++ {
		r := g.Report(i)
		if r.StationId == "StationI" || r.StationId == "StationJ" {
			continue
		}
		n++
		sum += r.Degrees
		sumSq += r.Degrees * r.Degrees
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	if math.Abs(mean-30) > 0.3 || math.Abs(sd-15) > 0.3 {
		t.Errorf("mean %.3f sd %.3f, want 30 and 15", mean, sd)
	}
}

func TestIndexInvertsFill(t *testing.T) {
	g := New(3)
	for _, i := range []int64{0, 1, 9, 10, 12345, 2_921_999} {
		r := g.Report(i)
		got, err := Index(r.Date, r.StationId)
		if err != nil || got != i {
			t.Errorf("Index(%s, %s) = %d, %v; want %d", r.Date, r.StationId, got, err, i)
		}
	}
	for _, bad := range [][2]string{{"1999-12-31", "StationA"}, {"2000-13-01", "StationA"}, {"2000-01-01", "StationZ"}} {
		if _, err := Index(bad[0], bad[1]); err == nil {
			t.Errorf("Index(%s, %s): no error", bad[0], bad[1])
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		n           int
		first, last string
	}{
		{1, "StationA", "StationA"},
		{10, "StationA", "StationJ"},
		{26, "StationA", "StationZ"},
		{27, "Station00", "Station26"},
		{1000, "Station000", "Station999"},
		{10000, "Station0000", "Station9999"},
	}
	for _, tt := range tests {
		names := Names(tt.n)
		seen := map[string]bool{}
		for _, n := range names {
			seen[n] = true
		}
		if len(names) != tt.n || len(seen) != tt.n || names[0] != tt.first || names[tt.n-1] != tt.last {
			t.Errorf("Names(%d): %d names (%d distinct), %s … %s; want %s … %s", tt.n, len(names), len(seen), names[0], names[len(names)-1], tt.first, tt.last)
		}
	}
	if got := Names(10); [10]string(got) != Stations {
		t.Errorf("Names(10) = %v, want the original's %v", got, Stations)
	}
}

// More stations than the original's: a day is that many reports, every one
// drawn, Index its inverse; out of range is an error.
func TestMoreStations(t *testing.T) {
	g, err := NewStations(5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int64{0, 999, 1000, 123_456, 9_999_999} {
		r := g.Report(i)
		got, err := g.Index(r.Date, r.StationId)
		if err != nil || got != i || string(g.Key(i)) != r.StationId {
			t.Errorf("report %d: %s %s, Index %d %v, key %s", i, r.Date, r.StationId, got, err, g.Key(i))
		}
	}
	if r := g.Report(1000); r.Date != "2000-01-02" || r.StationId != "Station000" {
		t.Errorf("report 1000 = %s %s, want the second day's first station", r.Date, r.StationId)
	}
	for _, n := range []int{0, MaxStations + 1} {
		if _, err := NewStations(1, n); err == nil {
			t.Errorf("NewStations(1, %d): no error", n)
		}
	}
	ten, _ := NewStations(9, 10)
	for i := range int64(300) {
		if a, b := ten.Report(i), New(9).Report(i); a.Degrees != b.Degrees || a.StationId != b.StationId || a.Date != b.Date {
			t.Fatalf("report %d of 10 stations differs from the original's stream", i)
		}
	}
}

// The stream pinned: the first three days of every station for seeds 1 and
// 42, in testdata/golden.json, computed once from the original's rules
// written out on their own (not with this package): StationA…H draw
// 30 + 15·N(0,1) in order from PCG(seed, day), StationI is 5.0, StationJ
// the day mod 10. A change to the generator's RNG, seeding or order — which
// the producer and every test would share, and so not notice — fails here.
func TestTheStreamIsPinned(t *testing.T) {
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string][]struct {
		Date    string  `json:"date"`
		Station string  `json:"station"`
		Degrees float64 `json:"degrees"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	for seed, reports := range golden {
		s, _ := strconv.ParseUint(seed, 10, 64)
		g := New(s)
		if len(reports) != 30 {
			t.Fatalf("seed %s: %d golden reports, want 30", seed, len(reports))
		}
		for i, want := range reports {
			got := g.Report(int64(i))
			if got.Date != want.Date || got.StationId != want.Station || got.Degrees != want.Degrees {
				t.Errorf("seed %s, report %d: %s %s %v, want %s %s %v", seed, i, got.Date, got.StationId, got.Degrees, want.Date, want.Station, want.Degrees)
			}
		}
	}
}
