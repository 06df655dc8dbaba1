package stats

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
)

// The consumer never writes a file it cannot load: whatever records arrive,
// the stats they make, written and parsed back, are the same stats. Records
// go through what the consumer does with them (codec.Parser, then Add); the
// ones either refuses are stepped over, as the consumer steps over them.
//
// Each record is 20 bytes of the input: a station id of 0–7 bytes (any bytes:
// invalid UTF-8, quotes, the reserved "offset" and "log" in the seeds), a
// date from year/month/day numbers (real or not), the degrees' 8 bytes (NaN,
// infinities, 1e308 …).
func FuzzFileLoadsAsWritten(f *testing.F) {
	rec := func(station string, y uint16, m, d byte, degrees float64) []byte {
		b := make([]byte, 12)
		b[0] = byte(len(station))
		copy(b[1:], station)
		binary.LittleEndian.PutUint16(b[8:], y)
		b[10], b[11] = m, d
		out := append(b, make([]byte, 8)...)
		binary.LittleEndian.PutUint64(out[12:], math.Float64bits(degrees))
		return out
	}
	cat := func(parts ...[]byte) (b []byte) {
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	f.Add(cat(rec("StationB", 2000, 1, 1, 30.5), rec("StationB", 2000, 1, 2, 12)))
	f.Add(cat(rec("StaB", 2000, 1, 5, 1e308), rec("StaB", 2000, 1, 6, 1e308)))                    // the sum would be +Inf
	f.Add(cat(rec("StaB", 2000, 1, 5, 1), rec("StaB", 1999, 12, 31, 2)))                          // a late report: start after end
	f.Add(cat(rec("offset", 2000, 1, 1, 1), rec("log", 2000, 1, 1, 1)))                           // the file's own keys
	f.Add(cat(rec("a\"b\\", 2000, 2, 29, math.Copysign(0, -1)), rec("\xff\xfe", 2001, 2, 29, 1))) // escapes, bad UTF-8, a non-date
	f.Add(cat(rec("x", 9999, 12, 31, math.SmallestNonzeroFloat64), rec("x", 0, 1, 1, -math.MaxFloat64)))
	f.Add(cat(rec("n", 2000, 1, 1, math.NaN()), rec("i", 2000, 1, 1, math.Inf(-1))))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := New(0)
		p.Log = &Log{Topic: "temperatures", TopicID: "3cTCaKIJSUe4hC7pAuO_bA", Partition: 2}
		var parser codec.Parser
		for ; len(data) >= 20; data = data[20:] {
			n := min(int(data[0]%8), 7)
			station := string(data[1 : 1+n])
			y, m, d := binary.LittleEndian.Uint16(data[8:]), data[10], data[11]
			date := fmt.Sprintf("%04d-%02d-%02d", y%10000, m, d)
			degrees := math.Float64frombits(binary.LittleEndian.Uint64(data[12:]))
			p.Offset++
			value, err := codec.Encode(nil, &reportpb.Report{Date: date, Degrees: degrees, StationId: station})
			if err != nil {
				continue
			}
			f, err := parser.Parse([]byte(station), value)
			if err != nil {
				continue // a bad record: stepped over
			}
			_ = p.Add(f.StationID, f.Date, f.Degrees) // refused: stepped over
		}
		b, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(b)
		if err != nil {
			t.Fatalf("the consumer wrote a file it cannot load: %v\n%s", err, b)
		}
		if q.Offset != p.Offset || q.Log != nil || len(q.Stations) != len(p.Stations) {
			t.Fatalf("loaded %+v, wrote %+v", q, p)
		}
		for name, s := range p.Stations {
			g, ok := q.Stations[name]
			if !ok || g.Count != s.Count || math.Float64bits(g.Sum) != math.Float64bits(s.Sum) || g.Start != s.Start || g.End != s.End {
				t.Fatalf("station %q: loaded %+v, wrote %+v", name, g, *s)
			}
		}
	})
}
