package codec

import (
	"testing"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/generator"
)

// The producer's and the consumer's per-record codec work. Run with
//
//	go test -run '^$' -bench . -benchmem ./services/common/codec
//
// (make bench runs them too). Benchmarks never fail on time.

// benchReports is one day of the stream: what Encode and Decode see.
func benchReports() []*reportpb.Report {
	g := generator.New(1)
	rs := make([]*reportpb.Report, generator.NumStations)
	for i := range rs {
		rs[i] = g.Report(int64(i) + 3650*generator.NumStations) // a day in 2009
	}
	return rs
}

// As the producer calls it today: a new slice per record.
func BenchmarkEncode(b *testing.B) {
	rs := benchReports()
	b.ReportAllocs()
	var n int
	for i := 0; b.Loop(); i++ {
		v, err := Encode(nil, rs[i%len(rs)])
		if err != nil {
			b.Fatal(err)
		}
		n += len(v)
	}
	b.ReportMetric(float64(n)/float64(b.N), "B/record")
}

// Into a reused buffer: the floor of Encode itself.
func BenchmarkEncodeReuse(b *testing.B) {
	rs := benchReports()
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for i := 0; b.Loop(); i++ {
		var err error
		if buf, err = Encode(buf[:0], rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// As the stats consumer calls it: key and value of a record into a reused
// Report, with every check.
func BenchmarkDecode(b *testing.B) {
	rs := benchReports()
	keys, values := make([][]byte, len(rs)), make([][]byte, len(rs))
	for i, r := range rs {
		keys[i] = []byte(r.StationId)
		values[i], _ = Encode(nil, r)
	}
	var r reportpb.Report
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % len(rs)
		if err := Decode(keys[j], values[j], &r); err != nil {
			b.Fatal(err)
		}
	}
}
