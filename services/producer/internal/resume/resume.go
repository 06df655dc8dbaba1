// Package resume finds where a restarted producer continues the stream.
//
// The producer writes the stream in transactions, in index order, each record
// marked with the stream's identity (streamid), so what is committed in the
// topic is a prefix of the stream, however the last producer died. Resume
// trusts nothing else: it waits until no transaction is open on the topic,
// reads back from each partition's end to the last committed record of a
// stream, and continues after the highest report it finds there. A record
// without the stream's marks — another writer's, a copy, a report of an older
// producer — never decides where the stream goes on. Fence must run first,
// so that no transaction of a dead producer can still commit after we look.
package resume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/streamid"
)

// Fence bumps the epoch of transactionalID: the transaction coordinator
// aborts a transaction the previous holder left open, or finishes one it had
// begun to commit, before it answers. A producer still running with that id
// fails on its next write.
func Fence(ctx context.Context, client *kgo.Client, transactionalID string, txnTimeout time.Duration) error {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &transactionalID
	req.TransactionTimeoutMillis = int32(txnTimeout.Milliseconds())
	for {
		resp, err := req.RequestWith(ctx, client)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			return nil
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, kerr.ConcurrentTransactions) {
			return fmt.Errorf("fence transactional id %s: %w", transactionalID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fence transactional id %s: %w (last: %w)", transactionalID, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Options are what Find needs to know of this producer.
type Options struct {
	Self streamid.ID
	// Takeover continues a stream this producer does not own: one of
	// another transactional id (fenced first), of another seed, or written
	// without stream marks (by an older producer).
	Takeover bool
	// SettleWait bounds the wait for transactions open on the topic.
	SettleWait time.Duration
	TxnTimeout time.Duration // for fencing another producer on a takeover
}

// Position is where the producer continues.
type Position struct {
	Next int64 // index of the first report not in the topic
	// Ends are the partitions' end offsets, no transaction open: where
	// this producer's first record in each must land if nobody else
	// writes (see guard).
	Ends map[int32]int64
}

// Find returns where the stream continues in topic.
func Find(ctx context.Context, log *slog.Logger, client *kgo.Client, adm *kadm.Client, reader *logread.Reader, topic string, o Options) (Position, error) {
	fenced := false
	for {
		ends, err := settle(ctx, log, adm, topic, o.SettleWait)
		if err != nil {
			return Position{}, err
		}
		starts, err := kafkaadmin.StartOffsets(ctx, adm, topic)
		if err != nil {
			return Position{}, err
		}
		t, err := scan(ctx, reader, starts, ends)
		if err != nil {
			return Position{}, err
		}
		if t.foreign > 0 {
			log.Warn("records that are not this stream's sit at the partitions' tails; resume ignored them", "topic", topic, "records", t.foreign)
		}
		next, other, err := decide(t, topic, o.Self, o.Takeover)
		if err != nil {
			return Position{}, err
		}
		if other == "" || fenced {
			if last := t.last(); last != nil && !last.id.Same(o.Self) {
				log.Warn("taking over the stream (STREAM_TAKEOVER)", "topic", topic, "from_index", next, "last", last.String(), "last_stream", last.id.String())
			}
			return Position{Next: next, Ends: ends}, nil
		}
		// Takeover of another producer's stream: fence it, so it can no
		// longer write, then look again (its open transaction is gone).
		log.Warn("fencing the producer of the stream (STREAM_TAKEOVER)", "topic", topic, "transactional_id", other)
		if err := Fence(ctx, client, other, o.TxnTimeout); err != nil {
			return Position{}, err
		}
		fenced = true
	}
}

// settle waits until no transaction is open on topic (end offset = last
// stable offset everywhere) and returns the end offsets. A transaction open
// on the topic is another producer at work, or a dead one's not yet timed
// out; ours was fenced.
func settle(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string, wait time.Duration) (map[int32]int64, error) {
	deadline := time.Now().Add(wait)
	for logged := false; ; logged = true {
		ends, err := kafkaadmin.EndOffsets(ctx, adm, topic)
		if err != nil {
			return nil, err
		}
		stable, err := kafkaadmin.StableOffsets(ctx, adm, topic)
		if err != nil {
			return nil, err
		}
		var open []int32
		for p, end := range ends {
			if stable[p] < end {
				open = append(open, p)
			}
		}
		slices.Sort(open)
		switch {
		case len(open) == 0:
			return ends, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("partitions %v of %s have had a transaction open for over %s: another producer writes this topic, "+
				"or a dead one's transaction has not timed out yet (one topic carries one stream)", open, topic, wait)
		case !logged:
			log.Info("waiting for the transactions open on the topic to end", "topic", topic, "partitions", open)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// found is a committed report at a partition's tail.
type found struct {
	index     int64
	id        streamid.ID // zero for a legacy report
	partition int32
	offset    int64
}

func (f *found) String() string {
	if f == nil {
		return "none"
	}
	return fmt.Sprintf("report %d (partition %d, offset %d)", f.index, f.partition, f.offset)
}

// tail is what the partitions' tails hold.
type tail struct {
	stream  *found // the stream-marked report of highest index
	legacy  *found // the report of highest index among the unmarked ones of a transaction
	foreign int    // records passed over that are neither
}

// last is the report of highest index.
func (t tail) last() *found {
	if t.legacy != nil && (t.stream == nil || t.legacy.index > t.stream.index) {
		return t.legacy
	}
	return t.stream
}

// add takes f into account.
func (t *tail) add(f *found) {
	switch {
	case f.id == (streamid.ID{}):
		if t.legacy == nil || f.index > t.legacy.index {
			t.legacy = f
		}
	case t.stream == nil || f.index > t.stream.index:
		t.stream = f
	}
}

// scan reads each partition back from its end, in doubling windows, to its
// last committed report of a stream.
func scan(ctx context.Context, reader *logread.Reader, starts, ends map[int32]int64) (tail, error) {
	var t tail
	var report reportpb.Report
	gens := generators{}
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		start, end := starts[p], ends[p]
		for to, size := end, int64(64); to > start; to, size = max(start, to-size), 2*size {
			from := max(start, to-size)
			var last *found
			foreign := 0
			err := reader.Read(ctx, p, from, to, true, func(rec *kgo.Record) {
				if rec.Attrs.IsControl() {
					return
				}
				f, ok := streamReport(rec, &report, gens)
				if !ok {
					foreign++
					return
				}
				last = f
			})
			if err != nil {
				return tail{}, err
			}
			t.foreign += foreign
			if last != nil {
				t.add(last)
				break // the partition's last report: nothing before it matters
			}
		}
	}
	return t, nil
}

// streamReport returns the report rec holds if it is one of a stream's:
// written in a transaction (a plain produce, a copy, is never the stream's)
// and a valid report; marked with the stream's identity and equal to what
// its seed and stations generate — or unmarked (a legacy report of an older
// producer, of the original's stations: its id stays zero).
func streamReport(rec *kgo.Record, report *reportpb.Report, gens generators) (*found, bool) {
	if !rec.Attrs.IsTransactional() || codec.Decode(rec.Key, rec.Value, report) != nil {
		return nil, false
	}
	id, marked := streamid.Of(rec)
	if !marked {
		id = streamid.ID{}
	}
	g := gens.of(id)
	if g == nil {
		return nil, false
	}
	index, err := g.Index(report.Date, report.StationId)
	if err != nil || marked && g.Report(index).Degrees != report.Degrees {
		return nil, false // not a report of the stream it says it is of
	}
	return &found{index: index, id: id, partition: rec.Partition, offset: rec.Offset}, true
}

// generators are the streams' generators met in a scan, made once each.
type generators map[streamid.ID]*generator.Generator

// of returns id's generator (the original's for a legacy report), or nil
// for a number of stations no generator makes.
func (gs generators) of(id streamid.ID) *generator.Generator {
	if g, ok := gs[id]; ok {
		return g
	}
	g, _ := generator.NewStations(id.Seed, id.NumStations())
	gs[id] = g
	return g
}

// decide returns the index to continue at and, for a takeover of another
// producer's stream, the transactional id to fence first; or why this
// producer must not continue the stream in topic.
func decide(t tail, topic string, self streamid.ID, takeover bool) (next int64, fence string, err error) {
	last := t.last()
	if last == nil {
		return 0, "", nil
	}
	if t.stream != nil && t.stream.id.Producer != self.Producer {
		fence = t.stream.id.Producer
	}
	if takeover {
		return last.index + 1, fence, nil
	}
	if last == t.legacy {
		return 0, "", fmt.Errorf("topic %s holds reports up to %s without the stream's marks: written by an older producer, or by another program. "+
			"Set STREAM_TAKEOVER=true to continue after them, or use another TOPIC", topic, last)
	}
	var why []string
	if last.id.Producer != self.Producer {
		why = append(why, fmt.Sprintf("it is written by TRANSACTIONAL_ID=%s, this producer is TRANSACTIONAL_ID=%s "+
			"(run this one with TRANSACTIONAL_ID=%[1]s: a new producer fences the old)", last.id.Producer, self.Producer))
	}
	if last.id.Seed != self.Seed {
		why = append(why, fmt.Sprintf("its SEED is %d, this producer's is %d (set SEED=%[1]d to continue it)", last.id.Seed, self.Seed))
	}
	if a, b := last.id.NumStations(), self.NumStations(); a != b {
		why = append(why, fmt.Sprintf("its STATIONS is %d, this producer's is %d (set STATIONS=%[1]d to continue it)", a, b))
	}
	if len(why) > 0 {
		return 0, "", fmt.Errorf("topic %s carries a stream up to %s that is not this producer's: %s. One topic carries one stream: "+
			"use another TOPIC, or set STREAM_TAKEOVER=true to continue it (fencing its producer)", topic, last, strings.Join(why, "; "))
	}
	return last.index + 1, "", nil
}
