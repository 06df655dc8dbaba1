// Package resume finds where a restarted producer continues the stream.
//
// The producer writes the stream in transactions, in index order, so what is
// committed in the topic is always a prefix of the stream, however the last
// producer died. The next index is one past the highest index found at the
// tail of the partitions, read committed. Fence must run first, so that no
// transaction of a dead producer can still commit after we look.
package resume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
)

// Fence bumps the epoch of transactionalID: the transaction coordinator
// aborts a transaction the previous holder left open, or finishes one it had
// begun to commit, before it answers.
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
		var kerrErr *kerr.Error
		if !errors.As(err, &kerrErr) || !kerrErr.Retriable && !errors.Is(err, kerr.ConcurrentTransactions) {
			return fmt.Errorf("fence transactional id %s: %w", transactionalID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fence transactional id %s: %w (last: %v)", transactionalID, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// span is a range of offsets [from, to) of one partition still to search.
type span struct{ from, to int64 }

// Next returns the index of the first report not yet committed to topic: 0
// for an empty topic. It reads backwards from each partition's end, in
// doubling windows, until it finds a report; aborted records and transaction
// markers are skipped. seed is only used to warn when the topic holds another
// seed's stream.
func Next(ctx context.Context, log *slog.Logger, adm *kadm.Client, conn []kgo.Opt, topic string, seed uint64) (int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	spans := map[int32]span{}
	ends.Each(func(end kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, end.Partition)
		if end.Offset > start.Offset {
			spans[end.Partition] = span{max(start.Offset, end.Offset-64), end.Offset}
		}
	})
	last := int64(-1)
	var lastReport *reportpb.Report
	for len(spans) > 0 {
		found, err := scan(ctx, conn, topic, spans)
		if err != nil {
			return 0, err
		}
		wider := map[int32]span{}
		for p, s := range spans {
			if r, ok := found[p]; ok {
				if i, _ := generator.Index(r.Date, r.StationId); i > last {
					last, lastReport = i, r
				}
				continue
			}
			start, _ := starts.Lookup(topic, p)
			if s.from > start.Offset {
				wider[p] = span{max(start.Offset, s.from-2*(s.to-s.from)), s.from}
			}
		}
		spans = wider
	}
	if lastReport != nil {
		if want := generator.New(seed).Report(last); want.Degrees != lastReport.Degrees {
			log.Warn("the topic's last report differs from this seed's stream: it was written with another SEED",
				"index", last, "date", lastReport.Date, "station", lastReport.StationId)
		}
	}
	return last + 1, nil
}

// scan reads each span and returns, per partition, the last report in it.
func scan(ctx context.Context, conn []kgo.Opt, topic string, spans map[int32]span) (map[int32]*reportpb.Report, error) {
	offsets := map[int32]kgo.Offset{}
	for p, s := range spans {
		offsets[p] = kgo.NewOffset().At(s.from)
	}
	client, err := kgo.NewClient(append(conn,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // the last offset of a span is usually a marker: see it to know we are done
	)...)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	found := map[int32]*reportpb.Report{}
	open := len(spans)
	done := map[int32]bool{}
	for open > 0 {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return nil, fmt.Errorf("read the tail of %s: %w", topic, err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			s := spans[rec.Partition]
			if done[rec.Partition] {
				return
			}
			if rec.Offset < s.to && !rec.Attrs.IsControl() {
				r := new(reportpb.Report)
				if codec.Decode(rec.Key, rec.Value, r) == nil {
					if _, err := generator.Index(r.Date, r.StationId); err == nil {
						found[rec.Partition] = r
					}
				}
			}
			// Aborted records are never returned, so the span may end on
			// one: any record at or past its last offset closes it.
			if rec.Offset >= s.to-1 {
				done[rec.Partition] = true
				open--
			}
		})
	}
	return found, nil
}
