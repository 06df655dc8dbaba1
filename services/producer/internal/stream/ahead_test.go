package stream

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
)

func TestAheadMakesTheStreamInOrder(t *testing.T) {
	headers := []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}
	for _, tc := range []struct {
		name        string
		next, count int64
		read        int64 // records to read (count 0: no end)
	}{
		{"from 0, fewer than a batch", 0, 10, 10},
		{"a whole batch", 0, aheadBatch, aheadBatch},
		{"across batches, from the middle", 17, 17 + 3*aheadBatch + 5, 3*aheadBatch + 5},
		{"no end", 5, 0, 2*aheadBatch + 1},
		{"nothing left", 40, 40, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			want := generator.New(1)
			ch := ahead(ctx, generator.New(1), headers, tc.next, tc.count)
			i := tc.next
			for i < tc.next+tc.read {
				b, ok := <-ch
				if !ok || b.err != nil || b.first != i || len(b.recs) == 0 || len(b.recs) > aheadBatch {
					t.Fatalf("at %d: batch from %d of %d records, err %v, open %v", i, b.first, len(b.recs), b.err, ok)
				}
				for _, r := range b.recs {
					value, err := codec.Encode(nil, want.Report(i))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(r.Key, want.Key(i)) || !bytes.Equal(r.Value, value) || len(r.Headers) != 1 || r.Headers[0].Key != "h" {
						t.Fatalf("record %d: key %q value %x headers %v; want key %q value %x", i, r.Key, r.Value, r.Headers, want.Key(i), value)
					}
					i++
				}
			}
			if tc.count > 0 {
				if b, ok := <-ch; ok {
					t.Fatalf("a batch from %d after the end (%d)", b.first, tc.count)
				}
			}
		})
	}
}

func TestAheadStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := ahead(ctx, generator.New(1), nil, 0, 0)
	<-ch
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the generator goes on after its context is done")
		}
	}
}
