package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/common/assignment"
	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/stats"
)

// What to do with a checkpoint that does not fit the log: its offset is not
// in the log any more, or it is another log's.
const (
	OutOfRangeFail    = "fail"    // stop with an error (default)
	OutOfRangeRestart = "restart" // keep the file as a backup, start afresh
)

// Config is how the consumer starts its partitions.
type Config struct {
	Topic      string
	Partitions []int32
	// Assigned are the partitions every consumer is given together
	// (PARTITIONS_BY_ORDINAL), if known: the others are read by nobody.
	Assigned     []int32
	OnOutOfRange string
	// StartAtLogStart lets a partition without a checkpoint start at a log
	// start above 0, its first records deleted (retention, DeleteRecords):
	// its stats then miss them. Without it, that start is an error.
	StartAtLogStart bool
	LockWait        time.Duration
	SaveRetries     int
	SaveBackoff     time.Duration
	// CheckpointInterval bounds how long a batch may gather fetches while
	// the consumer is behind; caught up, every fetch is checkpointed at once.
	CheckpointInterval time.Duration
	// TopicCheckInterval is how often the topic is looked at while
	// consuming (recreated, partitions added or read by nobody); > 0.
	TopicCheckInterval time.Duration
}

// Start takes the partitions (their locks), loads their checkpoints and checks
// each against the partition's log before anything is consumed: it must be
// this log's (topic, topic ID, partition), and its offset in the log — the
// client would otherwise move an offset outside the log to the nearest end
// without a word, and count records twice or skip them.
func Start(ctx context.Context, log *slog.Logger, adm *kadm.Client, store *checkpoint.Store, cfg Config, m *Metrics) (*Consumer, error) {
	if cfg.TopicCheckInterval <= 0 {
		return nil, fmt.Errorf("consume: TopicCheckInterval is %s, want > 0", cfg.TopicCheckInterval)
	}
	topic, err := waitForTopic(ctx, log, adm, cfg.Topic)
	if err != nil {
		return nil, err
	}
	if err := assignment.Check(cfg.Partitions, cfg.Topic, topic.Partitions); err != nil {
		return nil, err
	}
	c := &Consumer{log: log, store: store, parts: map[int32]*stats.Partition{}, metrics: m, pm: map[int32]partitionMetrics{},
		saveRetries: cfg.SaveRetries, saveBackoff: cfg.SaveBackoff, checkpointInterval: cfg.CheckpointInterval,
		watch: newTopicWatch(log, adm, store, topic, cfg, m)}
	for _, p := range cfg.Partitions {
		lock, err := store.Lock(ctx, p, cfg.LockWait)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.locks = append(c.locks, lock)
	}
	starts, err := kafkaadmin.StartOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		c.Close()
		return nil, err
	}
	ends, err := kafkaadmin.EndOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		c.Close()
		return nil, err
	}
	// Where the log ends for a read committed consumer: the lag metrics'
	// log end until the first fetch.
	stable, err := kafkaadmin.StableOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		c.Close()
		return nil, err
	}
	for _, p := range cfg.Partitions {
		want := stats.Log{Topic: cfg.Topic, TopicID: topic.ID(), Partition: p}
		part, err := c.startPartition(want, starts[p], ends[p], cfg)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.parts[p] = part
		c.pm[p] = m.partition(p)
		c.pm[p].offset.Set(float64(part.Offset))
		var writtenAt time.Time // the file's, if it is there (not moved away to start afresh)
		if fi, err := os.Stat(store.Path(p)); err == nil {
			writtenAt = fi.ModTime()
		}
		c.pm[p].lag.start(part.Offset, stable[p], writtenAt)
	}
	return c, nil
}

// startPartition loads the checkpoint of log's partition, if any, and checks
// that it fits the log [start, end).
func (c *Consumer) startPartition(log stats.Log, start, end int64, cfg Config) (*stats.Partition, error) {
	p := log.Partition
	part, err := c.store.Load(p)
	if err != nil {
		return nil, err
	}
	if part == nil {
		return c.startWithoutCheckpoint(log, start, cfg.StartAtLogStart)
	}
	var misfit error
	switch {
	case part.Log != nil && !part.Log.Is(log):
		misfit = fmt.Errorf("checkpoint %s is of another log: %s, not %s (the topic was recreated, or the file comes from another topic or partition)",
			c.store.Path(p), part.Log, log)
	case part.Offset < start || part.Offset > end:
		where := "before the log start (records were deleted by retention)"
		if part.Offset > end {
			where = "past the log end (the topic was recreated or the broker lost its log)"
		}
		misfit = fmt.Errorf("checkpoint %s has offset %d, %s: partition %d holds offsets %d to %d",
			c.store.Path(p), part.Offset, where, p, start, end)
	}
	if misfit == nil {
		if part.Log == nil {
			c.log.Info("checkpoint in the original format, without its log: taken as this partition's; it gains the log with its next write",
				"partition", p, "file", c.store.Path(p), "log", log.String())
		}
		part.Log = &log
		c.log.Info("resuming from checkpoint", "partition", p, "offset", part.Offset, "log_start", start, "log_end", end, "file", c.store.Path(p))
		return part, nil
	}
	if cfg.OnOutOfRange == OutOfRangeFail {
		return nil, fmt.Errorf("%w; set ON_OFFSET_OUT_OF_RANGE=restart to keep the file as a backup and start the partition afresh", misfit)
	}
	backup, err := c.store.Backup(p, time.Now())
	if err != nil {
		return nil, err
	}
	c.log.Warn("starting partition afresh", "partition", p, "reason", misfit.Error(), "backup", backup, "offset", start)
	return fresh(log, start), nil
}

// startWithoutCheckpoint starts a partition that has no file: at the log
// start if that is offset 0, the whole partition counted. A log that starts
// later lost its first records, and a lost disk's stats counted from there
// would look whole while missing them: that takes startAtLogStart.
func (c *Consumer) startWithoutCheckpoint(log stats.Log, start int64, startAtLogStart bool) (*stats.Partition, error) {
	p := log.Partition
	switch {
	case start == 0:
		c.log.Info("no checkpoint, starting at the log start", "partition", p, "offset", start, "log", log.String())
	case !startAtLogStart:
		return nil, fmt.Errorf("partition %d has no checkpoint, and its log starts at offset %d, not 0: records 0-%d are deleted (retention or DeleteRecords), "+
			"so stats counted from here would miss them. Restore %s, or set START_AT_LOG_START=true to count from offset %[2]d on",
			p, start, start-1, c.store.Path(p))
	default:
		c.log.Warn(fmt.Sprintf("no checkpoint, starting at the log start (START_AT_LOG_START): offsets 0-%d are deleted and not counted in the stats", start-1),
			"partition", p, "offset", start, "log", log.String())
	}
	return fresh(log, start), nil
}

func fresh(log stats.Log, offset int64) *stats.Partition {
	part := stats.New(offset)
	part.Log = &log
	return part
}

// waitForTopic waits for the topic to exist (the producer creates it).
func waitForTopic(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string) (kafkaadmin.Topic, error) {
	for {
		t, err := kafkaadmin.Lookup(ctx, adm, topic)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return t, ctx.Err()
		}
		if kafkaconfig.Permanent(err) {
			return t, fmt.Errorf("look up topic %s: %w", topic, err)
		}
		if !errors.Is(err, kafkaadmin.ErrNoTopic) {
			log.Warn("cannot look the topic up yet", "topic", topic, "err", err)
		} else {
			log.Info("waiting for the topic to exist", "topic", topic)
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
