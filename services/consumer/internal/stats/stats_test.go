package stats

import (
	"strings"
	"testing"
)

func TestAddKeepsCountSumStartEnd(t *testing.T) {
	p := New(0)
	for _, m := range []struct {
		station, date string
		degrees       float64
	}{
		{"StationB", "2000-01-01", 10},
		{"StationD", "2000-01-01", 1},
		{"StationB", "2000-01-02", 20},
		{"StationB", "2000-01-03", 33},
	} {
		if err := p.Add(m.station, m.date, m.degrees); err != nil {
			t.Fatal(err)
		}
	}
	b := p.Stations["StationB"]
	if b.Count != 3 || b.Sum != 63 || b.Avg() != 21 || b.Start != "2000-01-01" || b.End != "2000-01-03" {
		t.Errorf("StationB = %+v avg %v", *b, b.Avg())
	}
	if d := p.Stations["StationD"]; d.Count != 1 || d.Start != d.End {
		t.Errorf("StationD = %+v", *d)
	}
	if err := p.Add("offset", "2000-01-01", 1); err == nil {
		t.Error(`Add("offset") accepted a station that collides with the offset key`)
	}
}

func TestJSONIsTheOriginalFormatAndRoundTripsExactly(t *testing.T) {
	p := New(6816)
	p.Stations["StationB"] = &Station{Count: 2170, Sum: 66248.3, Start: "2000-04-12", End: "2006-03-21"}
	p.Stations["StationD"] = &Station{Count: 1, Sum: 1e-7, Start: "2000-04-12", End: "2000-04-12"}
	sum := 0.1
	sum += 0.2 // 0.30000000000000004: the file must keep every digit
	p.Stations["StationF"] = &Station{Count: 2, Sum: sum, Start: "2000-04-12", End: "2000-04-13"}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "offset": 6816,
  "StationB": {"count": 2170, "sum": 66248.3, "avg": 30.529170506912443, "start": "2000-04-12", "end": "2006-03-21"},
  "StationD": {"count": 1, "sum": 1e-07, "avg": 1e-07, "start": "2000-04-12", "end": "2000-04-12"},
  "StationF": {"count": 2, "sum": 0.30000000000000004, "avg": 0.15000000000000002, "start": "2000-04-12", "end": "2000-04-13"}
}
`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.Offset != p.Offset || len(q.Stations) != 3 {
		t.Fatalf("parsed %+v", q)
	}
	for name, s := range p.Stations {
		if *q.Stations[name] != *s {
			t.Errorf("%s: parsed %+v, wrote %+v", name, *q.Stations[name], *s)
		}
	}
}

func TestParseAcceptsAnEmptyPartition(t *testing.T) {
	p, err := Parse([]byte(`{"offset": 0}`))
	if err != nil || p.Offset != 0 || len(p.Stations) != 0 {
		t.Errorf("Parse = %+v, %v", p, err)
	}
}

func TestParseRejectsCorruptAndForeignFiles(t *testing.T) {
	station := `{"count": 2, "sum": 3, "avg": 1.5, "start": "2000-01-01", "end": "2000-01-02"}`
	tests := []struct{ name, file, want string }{
		{"empty file", ``, "not a JSON object"},
		{"truncated", `{"offset": 5, "StationA": {"count"`, "not a JSON object"},
		{"array", `[1,2]`, "not a JSON object"},
		{"foreign object", `{"name": "x"}`, `no "offset"`},
		{"offset is a string", `{"offset": "5"}`, `"offset" is "5"`},
		{"offset negative", `{"offset": -1}`, "integer >= 0"},
		{"offset fractional", `{"offset": 1.5}`, "integer >= 0"},
		{"station not an object", `{"offset": 1, "StationA": 3}`, `station "StationA"`},
		{"station unknown field", `{"offset": 1, "StationA": {"count": 1, "sum": 1, "avg": 1, "start": "2000-01-01", "end": "2000-01-01", "x": 1}}`, "unknown field"},
		{"station missing avg", `{"offset": 1, "StationA": {"count": 1, "sum": 1, "start": "2000-01-01", "end": "2000-01-01"}}`, "want count, sum"},
		{"zero count", `{"offset": 1, "StationA": {"count": 0, "sum": 0, "avg": 0, "start": "2000-01-01", "end": "2000-01-01"}}`, "count 0"},
		{"bad date", `{"offset": 1, "StationA": {"count": 1, "sum": 1, "avg": 1, "start": "2000-02-30", "end": "2000-03-01"}}`, "not YYYY-MM-DD"},
		{"start after end", `{"offset": 1, "StationA": {"count": 1, "sum": 1, "avg": 1, "start": "2000-02-02", "end": "2000-02-01"}}`, "after end"},
		{"avg inconsistent", `{"offset": 1, "StationA": {"count": 2, "sum": 3, "avg": 7, "start": "2000-01-01", "end": "2000-01-02"}}`, "not sum/count"},
		{"good station, bad neighbour", `{"offset": 1, "StationA": ` + station + `, "StationB": null}`, `station "StationB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%s) = %v, want error containing %q", tt.file, err, tt.want)
			}
		})
	}
}
