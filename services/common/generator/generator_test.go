package generator

import (
	"math"
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
