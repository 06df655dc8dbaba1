package codec

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/generator"
)

func encode(t *testing.T, r *reportpb.Report) []byte {
	t.Helper()
	b, err := Encode(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	in := &reportpb.Report{Date: "2008-12-17", Degrees: 35.2621, StationId: "StationC"}
	var out reportpb.Report
	if err := Decode([]byte("StationC"), encode(t, in), &out); err != nil {
		t.Fatal(err)
	}
	if out.Date != in.Date || out.Degrees != in.Degrees || out.StationId != in.StationId {
		t.Errorf("got %v, want %v", &out, in)
	}
}

func TestDecodeRejectsBadRecords(t *testing.T) {
	good := func() *reportpb.Report {
		return &reportpb.Report{Date: "2000-01-01", Degrees: 1, StationId: "StationA"}
	}
	withDate := func(d string) []byte { r := good(); r.Date = d; return encode(t, r) }
	withDegrees := func(v float64) []byte { r := good(); r.Degrees = v; return encode(t, r) }
	tests := []struct {
		name   string
		key    string
		value  []byte
		want   error
		reason string
	}{
		{"no key", "", encode(t, good()), ErrNoKey, "no_key"},
		{"garbage value", "StationA", []byte{0xff, 0xff, 0xff}, ErrUndecodable, "undecodable"},
		{"key is another station", "StationB", encode(t, good()), ErrKeyMismatch, "key_mismatch"},
		{"empty value has no station", "StationA", nil, ErrKeyMismatch, "key_mismatch"},
		{"empty date", "StationA", withDate(""), ErrBadDate, "bad_date"},
		{"month 13", "StationA", withDate("2000-13-01"), ErrBadDate, "bad_date"},
		{"february 30", "StationA", withDate("2001-02-30"), ErrBadDate, "bad_date"},
		{"not a date", "StationA", withDate("yesterday"), ErrBadDate, "bad_date"},
		{"NaN", "StationA", withDegrees(math.NaN()), ErrBadDegrees, "bad_degrees"},
		{"infinity", "StationA", withDegrees(math.Inf(-1)), ErrBadDegrees, "bad_degrees"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reportpb.Report
			err := Decode([]byte(tt.key), tt.value, &r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestValuesShareChunksAndStayApart(t *testing.T) {
	g := generator.New(1)
	var v Values
	values := make([][]byte, 5000) // more than one chunk
	for i := range values {
		b, err := v.Encode(g.Report(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		if cap(b) != len(b) {
			t.Fatalf("value %d: cap %d, len %d: appending to it would overwrite the next", i, cap(b), len(b))
		}
		values[i] = b
	}
	_ = append(values[0], 0xff) // must not touch values[1]
	for i, b := range values {
		if want := encode(t, g.Report(int64(i))); !bytes.Equal(b, want) {
			t.Fatalf("value %d = %x, want %x", i, b, want)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = v.Encode(g.Report(7)) }); n > 1.5 {
		t.Errorf("%.2f allocations per value, want about one (the Report), a chunk now and then", n)
	}
	if _, err := v.Encode(&reportpb.Report{Date: "\xff", StationId: "StationA"}); err == nil {
		t.Error("a report with invalid UTF-8 encodes")
	}
}
