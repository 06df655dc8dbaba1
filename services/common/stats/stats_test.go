package stats

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// date is the Date of s, which must be one.
func date(s string) Date {
	d, err := DateOf(s)
	if err != nil {
		panic(err)
	}
	return d
}

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
		if err := p.Add([]byte(m.station), []byte(m.date), m.degrees); err != nil {
			t.Fatal(err)
		}
	}
	b := p.Stations["StationB"]
	if b.Count != 3 || b.Sum != 63 || b.Avg() != 21 || b.Start != date("2000-01-01") || b.End != date("2000-01-03") {
		t.Errorf("StationB = %+v avg %v", *b, b.Avg())
	}
	if d := p.Stations["StationD"]; d.Count != 1 || d.Start != d.End {
		t.Errorf("StationD = %+v", *d)
	}
	for _, reserved := range []string{"offset", "log"} {
		if err := p.Add([]byte(reserved), []byte("2000-01-01"), 1); !errors.Is(err, ErrReservedStation) {
			t.Errorf("Add(%q) = %v, want ErrReservedStation: it collides with the file's own key", reserved, err)
		}
	}
}

// A measurement that would make a stat infinite is refused and changes
// nothing; one that is out of date order is counted as it comes.
func TestAddRefusesWhatTheFileCouldNotHold(t *testing.T) {
	p := New(0)
	if err := p.Add([]byte("StationB"), []byte("2000-01-05"), 1e308); err != nil {
		t.Fatal(err)
	}
	before := *p.Stations["StationB"]
	if err := p.Add([]byte("StationB"), []byte("2000-01-06"), 1e308); !errors.Is(err, ErrNotFinite) {
		t.Errorf("Add overflowing the sum = %v, want ErrNotFinite", err)
	}
	if err := p.Add([]byte("StationX"), []byte("2000-01-06"), math.MaxFloat64); err != nil {
		t.Fatal(err)
	}
	if err := p.Add([]byte("StationX"), []byte("2000-01-07"), math.MaxFloat64); !errors.Is(err, ErrNotFinite) {
		t.Errorf("Add overflowing a new station's sum = %v, want ErrNotFinite", err)
	}
	if *p.Stations["StationB"] != before {
		t.Errorf("a refused measurement changed the station: %+v, was %+v", *p.Stations["StationB"], before)
	}
	if err := p.Add([]byte("StationB"), []byte("2000-01-01"), 2); err != nil { // late: before the first date
		t.Fatal(err)
	}
	if b := p.Stations["StationB"]; b.Start != date("2000-01-05") || b.End != date("2000-01-01") || b.Count != 2 {
		t.Errorf("after a late report %+v, want start 2000-01-05 (first seen), end 2000-01-01 (last seen)", *b)
	}
	p.Offset = 6 // the consumer moves it once per record, counted or refused
	if _, err := Parse(mustMarshal(t, p)); err != nil {
		t.Errorf("the file of these stats does not load: %v", err)
	}
}

func mustMarshal(t testing.TB, p *Partition) []byte {
	t.Helper()
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJSONIsTheOriginalFormatAndRoundTripsExactly(t *testing.T) {
	p := New(6816)
	p.Log = &Log{Topic: "temperatures", TopicID: "3cTCaKIJSUe4hC7pAuO_bA", Partition: 0}
	p.Stations["StationB"] = &Station{Count: 2170, Sum: 66248.3, Start: date("2000-04-12"), End: date("2006-03-21")}
	p.Stations["StationD"] = &Station{Count: 1, Sum: 1e-7, Start: date("2000-04-12"), End: date("2000-04-12")}
	sum := 0.1
	sum += 0.2 // 0.30000000000000004: the file must keep every digit
	p.Stations["StationF"] = &Station{Count: 2, Sum: sum, Start: date("2000-04-12"), End: date("2000-04-13")}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// The original's format exactly: the log is not in the file.
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
	if q.Offset != p.Offset || len(q.Stations) != 3 || q.Log != nil {
		t.Fatalf("parsed %+v", q)
	}
	for name, s := range p.Stations {
		if *q.Stations[name] != *s {
			t.Errorf("%s: parsed %+v, wrote %+v", name, *q.Stations[name], *s)
		}
	}
}

// A file of the previous release carries its log in a "log" key: it loads,
// with its Log.
func TestParseTheFormatWithItsLog(t *testing.T) {
	p, err := Parse([]byte(`{"offset": 3, "log": {"topic": "temperatures", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 2},
"StationC": {"count": 1, "sum": 2.5, "avg": 2.5, "start": "2000-01-01", "end": "2000-01-01"}}`))
	want := Log{Topic: "temperatures", TopicID: "3cTCaKIJSUe4hC7pAuO_bA", Partition: 2}
	if err != nil || p.Log == nil || *p.Log != want || p.Stations["StationC"].Count != 1 {
		t.Fatalf("Parse = %+v, %v; want the stats and %v", p, err, want)
	}
}

func TestParseAcceptsAnEmptyPartition(t *testing.T) {
	p, err := Parse([]byte(`{"offset": 0}`))
	if err != nil || p.Offset != 0 || len(p.Stations) != 0 {
		t.Errorf("Parse = %+v, %v", p, err)
	}
}

// The original's files say nothing of their log, and its example rounds to
// two decimals: such a file loads, without a log.
func TestParseTheOriginalFormat(t *testing.T) {
	p, err := Parse([]byte(`{"offset": 6816, "StationB": {"count": 2170, "sum": 66248.30, "avg": 30.53, "start": "2000-04-12", "end": "2006-03-21"}}`))
	if err != nil || p.Log != nil || p.Stations["StationB"].Count != 2170 || p.Stations["StationB"].Sum != 66248.30 {
		t.Errorf("Parse = %+v, %v; want the stats and no log", p, err)
	}
}

func TestLogIs(t *testing.T) {
	a := Log{Topic: "temperatures", TopicID: "AAA", Partition: 1}
	tests := []struct {
		name string
		b    Log
		want bool
	}{
		{"same", a, true},
		{"recreated topic", Log{"temperatures", "BBB", 1}, false},
		{"other topic", Log{"other", "AAA", 1}, false},
		{"other partition", Log{"temperatures", "AAA", 0}, false},
		{"a broker without topic IDs", Log{"temperatures", "", 1}, true},
	}
	for _, tt := range tests {
		if got := a.Is(tt.b); got != tt.want || tt.b.Is(a) != tt.want {
			t.Errorf("%s: Is = %v, want %v", tt.name, got, tt.want)
		}
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
		{"log not an object", `{"offset": 1, "log": "temperatures"}`, `"log"`},
		{"log without topic id", `{"offset": 1, "log": {"topic": "t", "partition": 0}}`, `"log": want topic, topic_id`},
		{"log with empty topic", `{"offset": 1, "log": {"topic": "", "topic_id": "", "partition": 0}}`, `"log": want topic`},
		{"log negative partition", `{"offset": 1, "log": {"topic": "t", "topic_id": "", "partition": -1}}`, `partition >= 0`},
		{"log unknown field", `{"offset": 1, "log": {"topic": "t", "topic_id": "", "partition": 0, "x": 1}}`, "unknown field"},
		{"avg inconsistent", `{"offset": 1, "StationA": {"count": 2, "sum": 3, "avg": 7, "start": "2000-01-01", "end": "2000-01-02"}}`, "not sum/count"},
		{"good station, bad neighbour", `{"offset": 2, "StationA": ` + station + `, "StationB": null}`, `station "StationB"`},
		{"offset twice", `{"offset": 2, "StationA": ` + station + `, "offset": 900}`, `key "offset" is in the file twice`},
		{"station twice", `{"offset": 4, "StationA": ` + station + `, "StationA": ` + station + `}`, `key "StationA" is in the file twice`},
		{"log twice", `{"offset": 0, "log": {"topic": "t", "topic_id": "", "partition": 0}, "log": {"topic": "u", "topic_id": "", "partition": 0}}`, `key "log" is in the file twice`},
		{"a station's field twice", `{"offset": 9, "StationA": {"count": 2, "count": 7, "sum": 3, "avg": 1.5, "start": "2000-01-01", "end": "2000-01-02"}}`, `field "count" twice`},
		{"more counted than offsets", `{"offset": 1, "StationA": ` + station + `}`, "count 2 reports, more than the 1 offsets"},
		{"counts that overflow when added", `{"offset": 9223372036854775807, "StationA": {"count": 9223372036854775807, "sum": 1, "avg": 1.0842021724855044e-19, "start": "2000-01-01", "end": "2000-01-01"}, "StationB": {"count": 2, "sum": 3, "avg": 1.5, "start": "2000-01-01", "end": "2000-01-02"}}`, "add up to more than an int64"},
		{"more after the object", `{"offset": 0} {"offset": 1}`, "more after its end"},
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

// A frozen state does not move with its partition, and writes what the
// partition wrote at that moment; the names' order is kept between freezes
// and rebuilt when the stations change, even by hand with the same count.
func TestFreezeIsTheStateOfItsMoment(t *testing.T) {
	p := New(2)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Add([]byte("StationB"), []byte("2000-01-01"), 1))
	must(p.Add([]byte("StationA"), []byte("2000-01-01"), 2))
	before := mustMarshal(t, p)
	f := p.Freeze()
	must(p.Add([]byte("StationA"), []byte("2000-01-02"), 3))
	must(p.Add([]byte("StationC"), []byte("2000-01-02"), 4))
	p.Offset = 4
	if got, _ := f.MarshalJSON(); string(got) != string(before) {
		t.Errorf("frozen:\n%s\nwant the state of its moment:\n%s", got, before)
	}
	delete(p.Stations, "StationC") // by hand: the same count as a moment ago, other names
	p.Stations["StationZ"] = &Station{Count: 1, Sum: 9, Start: date("2000-01-01"), End: date("2000-01-01")}
	if got := string(mustMarshal(t, p)); !strings.Contains(got, `"StationZ"`) || strings.Contains(got, `"StationC"`) {
		t.Errorf("after a change by hand:\n%s", got)
	}
}

// appendString quotes as encoding/json does, whatever the name.
func FuzzAppendStringIsJSONMarshal(f *testing.F) {
	for _, s := range []string{"StationA", "Station 1", "a\"b", `a\b`, "<&>", "\x00\x1f", "\xff", "été", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, json.Marshal %s", s, got, want)
		}
	})
}
