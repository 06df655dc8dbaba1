package printer

import (
	"testing"

	"github.com/weatherstream/weather/proto/reportpb"
)

func TestPythonLineMatchesTheOriginal(t *testing.T) {
	tests := []struct {
		degrees float64
		station string
		want    string
	}{
		{35.2621, "StationC", `{'station_id': 'StationC', 'date': '2008-12-17', 'degrees': 35.2621, 'partition': 2}` + "\n"},
		{5, "StationI", `{'station_id': 'StationI', 'date': '2008-12-17', 'degrees': 5.0, 'partition': 2}` + "\n"},
		{-12.5, "StationA", `{'station_id': 'StationA', 'date': '2008-12-17', 'degrees': -12.5, 'partition': 2}` + "\n"},
		{0, "O'Hare", `{'station_id': 'O\'Hare', 'date': '2008-12-17', 'degrees': 0.0, 'partition': 2}` + "\n"},
		{1e-5, "StationA", `{'station_id': 'StationA', 'date': '2008-12-17', 'degrees': 1e-05, 'partition': 2}` + "\n"},
	}
	for _, tt := range tests {
		l := Line{Report: &reportpb.Report{Date: "2008-12-17", Degrees: tt.degrees, StationId: tt.station}, Partition: 2, Offset: 7}
		if got := string(Python(nil, l)); got != tt.want {
			t.Errorf("Python = %q, want %q", got, tt.want)
		}
	}
}

func TestJSONLine(t *testing.T) {
	l := Line{Report: &reportpb.Report{Date: "2008-12-17", Degrees: 5, StationId: "StationI"}, Partition: 3, Offset: 42}
	want := `{"station_id":"StationI","date":"2008-12-17","degrees":5,"partition":3,"offset":42}` + "\n"
	if got := string(JSON(nil, l)); got != want {
		t.Errorf("JSON = %q, want %q", got, want)
	}
}
