package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
)

// aheadBatch is how many records the generator makes at a time.
const aheadBatch = 1024

// encode is codec.Values.Encode; tests make it fail (a generated report
// never does).
var encode = (*codec.Values).Encode

// batch is the records of indexes first … first+len(recs)-1, or the error
// that stopped the generator at index first.
type batch struct {
	first int64
	recs  []kgo.Record
	err   error
}

// ahead generates the stream's records in order from index next on (up to
// count-1; count 0: no end) on a goroutine of its own, a batch at a time,
// at most two batches ahead of the reader, until ctx is done. At full speed
// the producer's loop waits for every commit (a flush and EndTransaction
// round trips): generating and encoding the next records meanwhile takes
// their cost off the loop. The records of a batch share one allocation,
// their values shared chunks (codec.Values); the client keeps what it still
// holds alive.
func ahead(ctx context.Context, gen *generator.Generator, headers []kgo.RecordHeader, next, count int64) <-chan batch {
	out := make(chan batch, 2)
	go func() {
		defer close(out)
		var (
			report reportpb.Report
			values codec.Values
		)
		for count == 0 || next < count {
			n := int64(aheadBatch)
			if count > 0 {
				n = min(n, count-next)
			}
			b := batch{first: next, recs: make([]kgo.Record, n)}
			for i := range b.recs {
				gen.Fill(next, &report)
				value, err := encode(&values, &report)
				if err != nil {
					b = batch{first: next, err: err}
					break
				}
				b.recs[i] = kgo.Record{Key: gen.Key(next), Value: value, Headers: headers}
				next++
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	return out
}

// queue hands out ahead's records one at a time.
type queue struct {
	batches <-chan batch
	cur     batch // cur.recs[pos] is the next record
	pos     int
}

// take is the record of index next, or why the generator stopped before it.
func (q *queue) take(next int64) (*kgo.Record, error) {
	if q.pos == len(q.cur.recs) {
		b, ok := <-q.batches
		if !ok { // it ends at cfg.Count only
			return nil, fmt.Errorf("the generator stopped before report %d", next)
		}
		if b.err != nil {
			return nil, b.err
		}
		q.cur, q.pos = b, 0
	}
	rec := &q.cur.recs[q.pos]
	q.pos++
	return rec, nil
}
