package consume

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/consumer/internal/assignment"
	"github.com/weatherstream/weather/services/consumer/internal/checkpoint"
	"github.com/weatherstream/weather/services/consumer/internal/stats"
)

// What to do with a checkpoint whose offset the log no longer has.
const (
	OutOfRangeFail    = "fail"    // stop with an error (default)
	OutOfRangeRestart = "restart" // keep the file as a backup, start afresh
)

// Config is how the consumer starts its partitions.
type Config struct {
	Topic        string
	Partitions   []int32
	OnOutOfRange string
	LockWait     time.Duration
	SaveRetries  int
	SaveBackoff  time.Duration
	// CheckpointInterval bounds how long a batch may gather fetches while
	// the consumer is behind; caught up, every fetch is checkpointed at once.
	CheckpointInterval time.Duration
}

// Start takes the partitions (their locks), loads their checkpoints and checks
// each offset against the partition's log before anything is consumed: the
// client would otherwise move an offset outside the log to the nearest end
// without a word, and count records twice or skip them.
func Start(ctx context.Context, log *slog.Logger, adm *kadm.Client, store *checkpoint.Store, cfg Config, m *Metrics) (*Consumer, error) {
	if cfg.OnOutOfRange != OutOfRangeFail && cfg.OnOutOfRange != OutOfRangeRestart {
		return nil, fmt.Errorf("ON_OFFSET_OUT_OF_RANGE %q: want %s or %s", cfg.OnOutOfRange, OutOfRangeFail, OutOfRangeRestart)
	}
	n, err := waitForTopic(ctx, log, adm, cfg.Topic)
	if err != nil {
		return nil, err
	}
	if err := assignment.Check(cfg.Partitions, cfg.Topic, n); err != nil {
		return nil, err
	}
	c := &Consumer{log: log, store: store, parts: map[int32]*stats.Partition{}, metrics: m,
		saveRetries: cfg.SaveRetries, saveBackoff: cfg.SaveBackoff, checkpointInterval: cfg.CheckpointInterval}
	for _, p := range cfg.Partitions {
		lock, err := store.Lock(ctx, p, cfg.LockWait)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.locks = append(c.locks, lock)
	}
	starts, err := adm.ListStartOffsets(ctx, cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("list start offsets of %s: %w", cfg.Topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("list end offsets of %s: %w", cfg.Topic, err)
	}
	for _, p := range cfg.Partitions {
		start, _ := starts.Lookup(cfg.Topic, p)
		end, _ := ends.Lookup(cfg.Topic, p)
		part, err := c.startPartition(p, start.Offset, end.Offset, cfg.OnOutOfRange)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.parts[p] = part
		m.partition(p).offset.Set(float64(part.Offset))
	}
	return c, nil
}

func (c *Consumer) startPartition(p int32, start, end int64, onOutOfRange string) (*stats.Partition, error) {
	part, err := c.store.Load(p)
	if err != nil {
		return nil, err
	}
	if part == nil {
		c.log.Info("no checkpoint, starting at the log start", "partition", p, "offset", start)
		return stats.New(start), nil
	}
	if part.Offset >= start && part.Offset <= end {
		c.log.Info("resuming from checkpoint", "partition", p, "offset", part.Offset, "log_start", start, "log_end", end, "file", c.store.Path(p))
		return part, nil
	}
	where := "before the log start (records were deleted by retention)"
	if part.Offset > end {
		where = "past the log end (the topic was recreated or the broker lost its log)"
	}
	err = fmt.Errorf("checkpoint %s has offset %d, %s: partition %d holds offsets %d to %d",
		c.store.Path(p), part.Offset, where, p, start, end)
	if onOutOfRange == OutOfRangeFail {
		return nil, fmt.Errorf("%w; set ON_OFFSET_OUT_OF_RANGE=restart to keep the file as a backup and start the partition afresh", err)
	}
	backup, berr := c.store.Backup(p, time.Now())
	if berr != nil {
		return nil, berr
	}
	c.log.Warn("starting partition afresh", "partition", p, "reason", err.Error(), "backup", backup, "offset", start)
	return stats.New(start), nil
}

// waitForTopic waits for the topic to exist (the producer creates it) and
// returns its partition count.
func waitForTopic(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string) (int, error) {
	for {
		topics, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if t, ok := topics[topic]; ok && t.Err == nil && len(t.Partitions) > 0 {
				return len(t.Partitions), nil
			}
		}
		log.Info("waiting for the topic to exist", "topic", topic)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %s: %w", topic, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}
