// Package consume is the stats consumer's loop: it owns a set of partitions,
// starts each from its checkpoint, folds every fetched batch into the
// partitions' stats and checkpoints the batch before fetching the next.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/stats"
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
	parser  codec.Parser
	// inflight is the checkpoint write going on in the background.
	inflight *write
	// pub publishes written states (snapshots) and offsets (the group).
	pub *publisher

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
//
// On return the last written states are published (snapshots, the group's
// offsets), waited for up to PublishWait: the next owner of a partition,
// on any node, continues from there.
func (c *Consumer) Run(ctx context.Context, client *kgo.Client) error {
	err := c.run(ctx, client)
	if ferr := c.flush(ctx); err == nil {
		err = ferr
	}
	if perr := c.pub.close(PublishWait); err == nil {
		err = perr
	}
	return err
}

// PublishWait bounds the last publication at shutdown: well inside
// Kubernetes' 30 s between SIGTERM and SIGKILL, with the checkpoint's own.
const PublishWait = 5 * time.Second

func (c *Consumer) run(ctx context.Context, client *kgo.Client) error {
	var (
		touched    []int32 // partitions changed since the last checkpoint
		batchStart = time.Now()
	)
	for {
		fetches := c.poll(ctx, client)
		c.pub.tick(time.Now())
		if w := c.inflight; w != nil && w.over() {
			if err := c.flush(ctx); err != nil {
				return err
			}
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fatal := c.fetchErrors(fetches)
		if fatal == nil && c.watch.due() {
			fatal = c.watch.check(ctx)
		}
		if err := c.pub.failed(); fatal == nil && err != nil {
			fatal = err
		}
		behind := false
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) > 0 && c.apply(fp.Partition, fp.Records) && !slices.Contains(touched, fp.Partition) {
				touched = append(touched, fp.Partition)
			}
			// Read committed, the log ends for us at the last stable offset.
			if part, ours := c.parts[fp.Partition]; ours && fp.Err == nil && fp.LastStableOffset >= 0 {
				behind = behind || part.Offset < fp.LastStableOffset
				c.pm[fp.Partition].lag.end(fp.LastStableOffset)
			}
		})
		// A batch ends when the consumer has caught up with what it was
		// fetched (checkpoint at once: no latency added), when it is
		// CheckpointInterval old, or at shutdown. Behind, several fetches
		// make one batch and one fsync (written while the next is folded).
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

// poll fetches. It wakes up for the topic's checks even when nothing comes,
// when a written state is due to be published, and when the checkpoint
// write in the background ends: a failed one is retried at once, not at the
// next batch.
func (c *Consumer) poll(ctx context.Context, client *kgo.Client) kgo.Fetches {
	wake := c.watch.next
	if due, ok := c.pub.due(); ok && due.Before(wake) {
		wake = due
	}
	poll, cancel := context.WithDeadline(ctx, wake)
	defer cancel()
	if w := c.inflight; w != nil {
		go func() {
			select {
			case <-w.finished:
				cancel()
			case <-poll.Done():
			}
		}()
	}
	return client.PollFetches(poll)
}

// fetchErrors logs the fetch errors to retry and returns the first that
// must stop the consumer.
func (c *Consumer) fetchErrors(fetches kgo.Fetches) (fatal error) {
	fetches.EachError(func(topic string, p int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kerr.OffsetOutOfRange):
			fatal = fmt.Errorf("partition %d: offset %d is no longer in the log (deleted by retention, or the topic was recreated); %s keeps the stats up to it",
				p, c.parts[p].Offset, c.store.Path(p))
		case kafkaconfig.Permanent(err):
			fatal = fmt.Errorf("fetch partition %d: %w", p, err)
		case errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.UnknownTopicOrPartition):
			c.watch.soon() // deleted, or recreated: look
			c.log.Warn("fetch error, looking at the topic", "topic", topic, "partition", p, "err", err)
		default:
			c.log.Warn("fetch error, retrying", "topic", topic, "partition", p, "err", err)
		}
	})
	return fatal
}

// apply folds one partition's records into its stats and moves its offset
// past them. A record that is not a valid report is logged, counted and
// stepped over: it is consumed once and never stops the partition.
func (c *Consumer) apply(p int32, records []*kgo.Record) (changed bool) {
	part, m := c.parts[p], c.pm[p]
	// The lag's age: the first new record's timestamp, once per fetch, and
	// before the offset moves (a scrape sees the offset past the file with
	// the age of what is past it).
	for _, rec := range records {
		if rec.Offset >= part.Offset {
			m.lag.fetched(rec.Timestamp)
			break
		}
	}
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
		f, err := c.parser.Parse(rec.Key, rec.Value)
		if err == nil {
			err = part.Add(f.StationID, f.Date, f.Degrees)
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
	for _, rec := range records {
		rec.Recycle() // nothing of it is kept (recordPool)
	}
	return changed
}

// save checkpoints the partitions a batch touched. Their states are
// snapshot now and written (fsync and all) in the background while the next
// batch is folded in: the loop waits for a disk only when the previous write
// is still going (or failed) at the next save, never for every one. A file
// is only ever replaced by a later state of its partition.
func (c *Consumer) save(ctx context.Context, touched []int32) error {
	pending := c.statesOf(touched)
	if c.inflight != nil {
		w := c.inflight
		c.inflight = nil
		if err := w.wait(); err != nil {
			// Write again what failed, as it is now, with this batch.
			for _, p := range w.parts {
				pending[p] = c.parts[p]
			}
			c.metrics.writeFailures.Inc()
			return c.retry(ctx, pending, err)
		}
		c.written(w)
	}
	// The states are frozen here (a copy of their numbers) and formatted
	// with the write, off the fold loop: at 10,000 stations formatting was
	// as long as folding the batch.
	frozen := checkpoint.Take(pending)
	for _, p := range touched {
		c.pm[p].lag.checkpointing(c.parts[p].Offset)
	}
	w := &write{parts: slices.Clone(touched), offsets: offsetsOf(pending), finished: make(chan struct{})}
	c.inflight = w
	go func() {
		start := time.Now()
		snap, err := frozen.Snapshot()
		if err == nil {
			err = c.store.Write(snap)
		}
		w.snap, w.at = snap, time.Now()
		if err == nil {
			c.metrics.writeSeconds.Observe(w.at.Sub(start).Seconds())
		}
		w.err = err
		close(w.finished)
	}()
	return nil
}

// written records a finished background write in the lag metrics, and
// hands it to the publisher.
func (c *Consumer) written(w *write) {
	for _, p := range w.parts {
		c.pm[p].lag.written(w.at)
	}
	c.pub.written(w.snap, w.offsets, w.at)
}

// offsetsOf are the states' offsets.
func offsetsOf(parts map[int32]*stats.Partition) map[int32]int64 {
	m := make(map[int32]int64, len(parts))
	for p, part := range parts {
		m[p] = part.Offset
	}
	return m
}

// write is a checkpoint write in the background.
type write struct {
	parts    []int32
	snap     checkpoint.Snapshot // what it wrote, set before finished is closed
	offsets  map[int32]int64     // their offsets
	err      error               // its result, set before finished is closed
	at       time.Time           // when it ended, likewise
	finished chan struct{}       // closed when it is over
}

// wait waits for the write to end and returns its result.
func (w *write) wait() error {
	<-w.finished
	return w.err
}

// over reports whether the write has ended.
func (w *write) over() bool {
	select {
	case <-w.finished:
		return true
	default:
		return false
	}
}

// flush waits for the write in the background, if any: when Run returns,
// every file holds the state it was given last. A failed write is retried.
func (c *Consumer) flush(ctx context.Context) error {
	if c.inflight == nil {
		return nil
	}
	w := c.inflight
	c.inflight = nil
	if err := w.wait(); err != nil {
		c.metrics.writeFailures.Inc()
		return c.retry(ctx, c.statesOf(w.parts), err)
	}
	c.written(w)
	return nil
}

// retry writes parts again after a failed write (a full or read-only disk),
// in the foreground, a few times. If it still fails the consumer stops: each
// file keeps a consistent state, whose offset matches its stats, and a
// restart resumes from there. Shutdown (ctx done) cuts the retries short,
// for the same reason.
func (c *Consumer) retry(ctx context.Context, parts map[int32]*stats.Partition, err error) error {
	backoff := c.saveBackoff
	for attempt := 1; ; attempt++ {
		if attempt > c.saveRetries {
			return fmt.Errorf("%w (gave up after %d attempts; the partition files keep their previous, consistent state)", err, attempt)
		}
		c.log.Error("checkpoint failed, retrying", "partitions", slices.Sorted(maps.Keys(parts)), "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while retrying a checkpoint (%w); the partition files keep their previous, consistent state: %w", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		start := time.Now()
		snap, terr := checkpoint.Take(parts).Snapshot()
		if terr != nil {
			return terr
		}
		if err = c.store.Write(snap); err == nil {
			now := time.Now()
			c.metrics.writeSeconds.Observe(now.Sub(start).Seconds())
			for p, part := range parts {
				c.pm[p].lag.writtenAll(part.Offset, now)
			}
			c.pub.written(snap, offsetsOf(parts), now)
			return nil
		}
		c.metrics.writeFailures.Inc()
	}
}

// statesOf returns the states of partitions ps.
func (c *Consumer) statesOf(ps []int32) map[int32]*stats.Partition {
	m := make(map[int32]*stats.Partition, len(ps))
	for _, p := range ps {
		m[p] = c.parts[p]
	}
	return m
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
		// Records are recycled once folded in (apply).
		kgo.WithPools(newRecordPool()),
	}
}
