// Package guard keeps the producer the only writer of its stream while it
// writes. Nobody else writing, the producer's records in a partition follow
// each other with exactly one offset between two transactions (the commit
// marker), starting at the end offset resume found. Any other gap holds
// another writer's records: before each commit the gaps are read, and if one
// holds records of a stream — a second producer at work on the topic — the
// transaction is aborted and the producer stops. Records of any other writer
// are only reported.
package guard

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/streamid"
)

// Gap is a range of offsets between two of the producer's own.
type Gap struct {
	Partition int32
	From, To  int64
}

// Guard watches the offsets the producer's records land at.
type Guard struct {
	log    *slog.Logger
	reader *logread.Reader

	mu      sync.Mutex
	next    []int64 // per partition: where the producer's next record must land; -1 unknown
	touched []bool  // per partition: written to in the open transaction
	gaps    []Gap
}

// New returns a guard for a producer whose first record in partition p must
// land at ends[p].
func New(log *slog.Logger, reader *logread.Reader, ends map[int32]int64) *Guard {
	g := &Guard{log: log, reader: reader}
	for p, end := range ends {
		g.grow(p)
		g.next[p] = end
	}
	return g
}

func (g *Guard) grow(p int32) {
	for int(p) >= len(g.next) {
		g.next = append(g.next, -1) // a partition added since the start: learnt from its first record
		g.touched = append(g.touched, false)
	}
}

// Written notes that one of the producer's records landed at offset of
// partition p. Records of a partition must be noted in offset order (the
// client calls its promises so).
func (g *Guard) Written(p int32, offset int64) {
	g.mu.Lock()
	g.grow(p)
	if want := g.next[p]; want >= 0 && offset != want {
		g.gaps = append(g.gaps, Gap{Partition: p, From: want, To: offset})
	}
	g.next[p] = offset + 1
	g.touched[p] = true
	g.mu.Unlock()
}

// Committed notes that the open transaction committed: one marker in each
// partition it wrote to.
func (g *Guard) Committed() {
	g.mu.Lock()
	for p, t := range g.touched {
		if t {
			g.next[p]++
			g.touched[p] = false
		}
	}
	g.mu.Unlock()
}

// ErrOtherStream is the error of Check when another stream's records are
// among the producer's.
type ErrOtherStream struct {
	Other streamid.ID
	Gap   Gap
}

func (e *ErrOtherStream) Error() string {
	return fmt.Sprintf("another producer writes this topic: %s wrote partition %d at offsets %d to %d, among this producer's records (one topic carries one stream)",
		e.Other, e.Gap.Partition, e.Gap.From, e.Gap.To-1)
}

// Check reads the gaps found since the last Check. It returns an
// *ErrOtherStream if one holds a record of a stream (this one's included: a
// fenced predecessor cannot write, so that is a second producer with our
// marks); records of any other writer are logged. All writes must be done
// (flushed) when it is called.
func (g *Guard) Check(ctx context.Context) error {
	g.mu.Lock()
	gaps := g.gaps
	g.gaps = nil
	g.mu.Unlock()
	for _, gap := range gaps {
		var other *streamid.ID
		n := 0
		err := g.reader.Read(ctx, gap.Partition, gap.From, gap.To, false, func(rec *kgo.Record) {
			n++
			if id, ok := streamid.Of(rec); ok && other == nil {
				other = &id
			}
		})
		if err != nil {
			return fmt.Errorf("read the records another writer put among this producer's: %w", err)
		}
		if other != nil {
			return &ErrOtherStream{Other: *other, Gap: gap}
		}
		g.log.Warn("another writer's records are among this producer's (not a stream's: the consumers count those that are valid reports)",
			"partition", gap.Partition, "from_offset", gap.From, "to_offset", gap.To-1, "records", n)
	}
	return nil
}
