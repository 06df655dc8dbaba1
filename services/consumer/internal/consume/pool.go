package consume

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordPool gives franz-go back the record slices and the decompressed
// batches of fetches already folded in, so that the next fetches reuse
// their memory instead of allocating it anew (kgo.WithPools): a stats
// consumer spends most of a raw consume's CPU on that allocation and its
// garbage collection. It keeps at most a few of each, so memory stays that
// of the fetches in flight; more go to the garbage collector. apply keeps
// nothing of a record (the stats copy a new station's name, dates go into
// arrays), so every record is recycled once folded in.
type recordPool struct {
	records chan []kgo.Record
	bytes   chan []byte
}

var (
	_ kgo.PoolRecords         = (*recordPool)(nil)
	_ kgo.PoolDecompressBytes = (*recordPool)(nil)
)

// pooledFetches is how many of each the pool keeps.
const pooledFetches = 4

func newRecordPool() *recordPool {
	return &recordPool{records: make(chan []kgo.Record, pooledFetches), bytes: make(chan []byte, pooledFetches)}
}

func (p *recordPool) GetRecords(n int) []kgo.Record {
	select {
	case s := <-p.records:
		if cap(s) >= n {
			return s[:n]
		}
	default:
	}
	return make([]kgo.Record, n)
}

func (p *recordPool) PutRecords(s []kgo.Record) {
	select {
	case p.records <- s:
	default: // enough kept
	}
}

func (p *recordPool) GetDecompressBytes(compressed []byte, _ kgo.CompressionCodecType) []byte {
	select {
	case s := <-p.bytes:
		return s[:0]
	default:
	}
	return make([]byte, 0, 4*len(compressed)) // grown by franz-go if short
}

func (p *recordPool) PutDecompressBytes(s []byte) {
	select {
	case p.bytes <- s:
	default:
	}
}
