package generator

import (
	"testing"

	"github.com/weatherstream/weather/proto/reportpb"
)

// The producer's per-record generation: walking the stream in order, as
// stream.Run does (one day's RNG and date per ten reports).
func BenchmarkFill(b *testing.B) {
	g := New(1)
	var r reportpb.Report
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		g.Fill(i, &r)
	}
}
