package codec

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/weatherstream/weather/proto/reportpb"
)

// Encode and Decode read and write the wire form by hand; these check them
// against the protobuf library and time.Parse they replace.

// protoDecode is Decode as it was: proto.Unmarshal, then the checks.
func protoDecode(key, value []byte, r *reportpb.Report) error {
	if len(key) == 0 {
		return ErrNoKey
	}
	if err := proto.Unmarshal(value, r); err != nil {
		return ErrUndecodable
	}
	if r.StationId != string(key) {
		return ErrKeyMismatch
	}
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
		return ErrBadDate
	}
	if math.IsNaN(r.Degrees) || math.IsInf(r.Degrees, 0) {
		return ErrBadDegrees
	}
	return nil
}

func checkDecode(t *testing.T, key, value []byte) {
	var a, b reportpb.Report
	errA, errB := protoDecode(key, value, &a), Decode(key, value, &b)
	if Reason(errA) != Reason(errB) || (errA == nil) != (errB == nil) {
		t.Fatalf("key %q value %x: proto.Unmarshal %v, Decode %v", key, value, errA, errB)
	}
	if errA == nil && (a.Date != b.Date || a.StationId != b.StationId || math.Float64bits(a.Degrees) != math.Float64bits(b.Degrees)) {
		t.Fatalf("key %q value %x: proto.Unmarshal %v, Decode %v", key, value, &a, &b)
	}
}

var decodeSeeds = [][2][]byte{
	{[]byte("StationA"), {0x0a, 0x02, 0xff, 0xfe}},                                           // invalid UTF-8 date
	{[]byte("0"), []byte("\x95\x95\x95\x8c00000")},                                           // field number too large
	{[]byte("x"), []byte("\x1a\x01x\x0a\x0a2000-02-29\x20\x01")},                             // unknown varint field
	{[]byte("x"), []byte("\x1a\x01x\x0a\x0a2001-02-29")},                                     // not a date
	{[]byte("x"), []byte("\x1a\x01x\x0a\x0a2000-02-29\x11\x00\x00\x00\x00\x00\x00\xf0\x7f")}, // +Inf
	{[]byte("x"), []byte("\x1a\x01y\x0a\x0a2000-02-29")},                                     // key mismatch
	{[]byte("x"), []byte("\x0a\x0a2000-02-29\x1a\x01x\x0a\x0a2000-03-01")},                   // repeated field: the last wins
	{[]byte("x"), []byte("\x1a\x01x\x0a\x0a2000-02-29\x0b\x0c")},                             // a group
	{[]byte("x"), []byte("\x1a\x05x")},                                                       // truncated
}

func TestDecodeIsProtoUnmarshal(t *testing.T) {
	for _, r := range benchReports() {
		v, _ := Encode(nil, r)
		checkDecode(t, []byte(r.StationId), v)
	}
	for _, s := range decodeSeeds {
		checkDecode(t, s[0], s[1])
	}
}

func FuzzDecodeIsProtoUnmarshal(f *testing.F) {
	for _, r := range benchReports() {
		v, _ := Encode(nil, r)
		f.Add([]byte(r.StationId), v)
	}
	for _, s := range decodeSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(checkDecode)
}

// A Parser remembers the last date it found valid: whatever came before, it
// answers each record as a fresh Decode does.
func FuzzParserAfterAnyRecordIsDecode(f *testing.F) {
	reports := benchReports()
	v0, _ := Encode(nil, reports[0])
	v1, _ := Encode(nil, reports[1])
	f.Add([]byte(reports[0].StationId), v0, []byte(reports[1].StationId), v1)
	for _, s := range decodeSeeds {
		f.Add([]byte(reports[0].StationId), v0, s[0], s[1])
		f.Add(s[0], s[1], []byte(reports[0].StationId), v0)
	}
	f.Fuzz(func(t *testing.T, keyA, valueA, keyB, valueB []byte) {
		var p Parser
		_, _ = p.Parse(keyA, valueA)
		f, errB := p.Parse(keyB, valueB)
		var r reportpb.Report
		want := Decode(keyB, valueB, &r)
		if Reason(errB) != Reason(want) || (errB == nil) != (want == nil) {
			t.Fatalf("after %q/%x, record %q/%x: Parse %v, Decode %v", keyA, valueA, keyB, valueB, errB, want)
		}
		if want == nil && (string(f.Date) != r.Date || string(f.StationID) != r.StationId || math.Float64bits(f.Degrees) != math.Float64bits(r.Degrees)) {
			t.Fatalf("record %q/%x: Parse %s %s %v, Decode %v", keyB, valueB, f.Date, f.StationID, f.Degrees, &r)
		}
	})
}

func checkEncode(t *testing.T, date string, degrees float64, station string, unknown []byte) {
	r := &reportpb.Report{Date: date, Degrees: degrees, StationId: station}
	r.ProtoReflect().SetUnknown(unknown)
	want, errW := proto.MarshalOptions{}.MarshalAppend([]byte("prefix"), r)
	got, errG := Encode([]byte("prefix"), r)
	if (errW == nil) != (errG == nil) || errW == nil && string(want) != string(got) {
		t.Fatalf("%v: proto.Marshal %x %v, Encode %x %v", r, want, errW, got, errG)
	}
}

func TestEncodeIsProtoMarshal(t *testing.T) {
	checkEncode(t, "2000-01-01", 30.5, "StationA", nil)
	checkEncode(t, "", 0, "", []byte{0x20, 0x01})
	checkEncode(t, "\xff", math.Copysign(0, -1), "x", nil)
	checkEncode(t, "2000-01-01", math.NaN(), "StationJ", nil)
}

func FuzzEncodeIsProtoMarshal(f *testing.F) {
	f.Add("2000-01-01", 30.5, "StationA", []byte(nil))
	f.Add("", 0.0, "", []byte{0x20, 0x01})
	f.Fuzz(checkEncode)
}

// validDate must accept exactly what time.Parse(time.DateOnly, s) accepts.
func TestValidDateIsTimeParse(t *testing.T) {
	check := func(s string) {
		_, err := time.Parse(time.DateOnly, s)
		if got := validDate([]byte(s)); got != (err == nil) {
			t.Errorf("validDate(%q) = %v, time.Parse: %v", s, got, err)
		}
	}
	b := []byte("0000-00-00")
	for y := range 10000 {
		b[0], b[1], b[2], b[3] = byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
		for m := 0; m <= 13; m++ {
			b[5], b[6] = byte('0'+m/10), byte('0'+m%10)
			for d := 0; d <= 32; d++ {
				b[8], b[9] = byte('0'+d/10), byte('0'+d%10)
				check(string(b))
			}
		}
	}
	for _, s := range []string{"", "2000-1-01", "2000-01-1", "20000-01-01", "2000/01/01", "2000-01-01 ", " 2000-01-01", "2000-0a-01", "+200-01-01", "2000-01-+1", "２000-01-01"} {
		check(s)
	}
}

func FuzzValidDateIsTimeParse(f *testing.F) {
	f.Add("2000-02-29")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := time.Parse(time.DateOnly, s)
		if got := validDate([]byte(s)); got != (err == nil) {
			t.Errorf("validDate(%q) = %v, time.Parse: %v", s, got, err)
		}
	})
}
