// Package consume is the stats consumer's loop: it owns a set of partitions,
// starts each from its checkpoint, folds every fetched batch into the
// partitions' stats and checkpoints the batch before fetching the next.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/consumer/internal/checkpoint"
	"github.com/weatherstream/weather/services/consumer/internal/stats"
)

// Consumer holds the owned partitions' state between batches.
type Consumer struct {
	log     *slog.Logger
	store   *checkpoint.Store
	parts   map[int32]*stats.Partition
	locks   []*checkpoint.Lock
	metrics *Metrics
	pm      map[int32]partitionMetrics
	watch   *topicWatch

	saveRetries        int
	saveBackoff        time.Duration
	checkpointInterval time.Duration
}

// Offsets are where each partition continues: the checkpoints' offsets,
// for kgo.ConsumePartitions.
func (c *Consumer) Offsets() map[int32]kgo.Offset {
	m := make(map[int32]kgo.Offset, len(c.parts))
	for p, part := range c.parts {
		m[p] = kgo.NewOffset().At(part.Offset)
	}
	return m
}

// Close releases the partitions' locks.
func (c *Consumer) Close() {
	for _, l := range c.locks {
		_ = l.Unlock() // closing the lock file: nothing to do if it fails
	}
}

// Run consumes until ctx is done or a fatal error. The client must consume
// exactly c.Offsets(), read committed, keep control records and not reset
// offsets (see ClientOpts). A batch in hand when ctx ends is still folded in
// and checkpointed: SIGTERM loses nothing.
func (c *Consumer) Run(ctx context.Context, client *kgo.Client) error {
	var (
		report     reportpb.Report
		touched    []int32 // partitions changed since the last checkpoint
		batchStart = time.Now()
	)
	for {
		// Polls wake up for the topic's checks even when nothing comes.
		poll, cancel := context.WithDeadline(ctx, c.watch.next)
		fetches := client.PollFetches(poll)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		var fatal error
		fetches.EachError(func(topic string, p int32, err error) {
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			case errors.Is(err, kerr.OffsetOutOfRange):
				fatal = fmt.Errorf("partition %d: offset %d is no longer in the log (deleted by retention, or the topic was recreated); %s keeps the stats up to it",
					p, c.parts[p].Offset, c.store.Path(p))
			case errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.UnknownTopicOrPartition):
				c.watch.soon() // deleted, or recreated: look
				c.log.Warn("fetch error, looking at the topic", "topic", topic, "partition", p, "err", err)
			default:
				c.log.Warn("fetch error, retrying", "topic", topic, "partition", p, "err", err)
			}
		})
		if fatal == nil && c.watch.due() {
			fatal = c.watch.check(ctx)
		}
		behind := false
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) > 0 && c.apply(fp.Partition, fp.Records, &report) && !slices.Contains(touched, fp.Partition) {
				touched = append(touched, fp.Partition)
			}
			// Read committed, the log ends for us at the last stable offset.
			if part, ours := c.parts[fp.Partition]; ours && fp.Err == nil {
				behind = behind || part.Offset < fp.LastStableOffset
			}
		})
		// A batch ends when the consumer has caught up with what it was
		// fetched (checkpoint at once: no latency added), when it is
		// CheckpointInterval old, or at shutdown. Behind, several fetches
		// make one batch and one fsync.
		batchDone := !behind || time.Since(batchStart) >= c.checkpointInterval || fatal != nil || ctx.Err() != nil
		if len(touched) > 0 && batchDone {
			if err := c.save(ctx, touched); err != nil {
				return err
			}
			touched, batchStart = touched[:0], time.Now()
		}
		if fatal != nil {
			return fatal
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// apply folds one partition's records into its stats and moves its offset
// past them. A record that is not a valid report is logged, counted and
// stepped over: it is consumed once and never stops the partition.
func (c *Consumer) apply(p int32, records []*kgo.Record, report *reportpb.Report) (changed bool) {
	part, m := c.parts[p], c.pm[p]
	var counted float64
	for _, rec := range records {
		if rec.Offset < part.Offset {
			continue // already in the stats: never count twice
		}
		part.Offset = rec.Offset + 1
		changed = true
		if rec.Attrs.IsControl() {
			continue // a transaction marker: moves the offset, holds no report
		}
		err := codec.Decode(rec.Key, rec.Value, report)
		if err == nil {
			err = part.Add(report.StationId, report.Date, report.Degrees)
		}
		if err != nil {
			c.log.Error("skipping bad record", "partition", p, "offset", rec.Offset, "err", err)
			m.skipped[reason(err)].Inc()
			continue
		}
		counted++
	}
	m.records.Add(counted)
	m.offset.Set(float64(part.Offset))
	return changed
}

// save checkpoints the partitions a batch touched, retrying a failed write
// (a full or read-only disk) a few times. If it still fails the consumer
// stops: each file keeps a consistent state, whose offset matches its stats,
// and a restart resumes from there. Shutdown (ctx done) cuts the retries
// short, for the same reason.
func (c *Consumer) save(ctx context.Context, touched []int32) error {
	parts := make(map[int32]*stats.Partition, len(touched))
	for _, p := range touched {
		parts[p] = c.parts[p]
	}
	backoff := c.saveBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := c.store.SaveAll(parts)
		if err == nil {
			c.metrics.writeSeconds.Observe(time.Since(start).Seconds())
			return nil
		}
		c.metrics.writeFailures.Inc()
		if attempt > c.saveRetries {
			return fmt.Errorf("%w (gave up after %d attempts; the partition files keep their previous, consistent state)", err, attempt)
		}
		c.log.Error("checkpoint failed, retrying", "partitions", touched, "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while retrying a checkpoint (%w); the partition files keep their previous, consistent state: %w", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// ClientOpts are the consumer options Run relies on.
func (c *Consumer) ClientOpts(topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: c.Offsets()}),
		// Only committed transactions: the producer's aborted retries never count.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers come through so the offset moves past them: once caught
		// up, a checkpoint's offset is the partition's end offset.
		kgo.KeepControlRecords(),
		// An offset that left the log is an error, never a silent jump.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	}
}
