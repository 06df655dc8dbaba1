package consume

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRecordPoolReusesWhatFitsAndKeepsAFew(t *testing.T) {
	p := newRecordPool()
	first := p.GetRecords(100)
	if len(first) != 100 {
		t.Fatalf("GetRecords(100) has length %d", len(first))
	}
	p.PutRecords(first)
	if again := p.GetRecords(50); len(again) != 50 || &again[0] != &first[0] {
		t.Error("a slice put back that fits is not reused")
	}
	p.PutRecords(make([]kgo.Record, 0)[:0:0])
	if big := p.GetRecords(10); cap(big) < 10 {
		t.Errorf("a slice too small was handed out: cap %d", cap(big))
	}
	for range pooledFetches + 5 {
		p.PutRecords(make([]kgo.Record, 1))
		p.PutDecompressBytes(make([]byte, 1))
	}
	if len(p.records) != pooledFetches || len(p.bytes) != pooledFetches {
		t.Errorf("keeps %d record slices and %d byte slices, want at most %d", len(p.records), len(p.bytes), pooledFetches)
	}
	if b := p.GetDecompressBytes(make([]byte, 10), 0); len(b) != 0 {
		t.Errorf("decompress bytes of length %d, want 0", len(b))
	}
}
