package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/assignment"
	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/snapshot"
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
	// SnapshotInterval is how often at most a partition's written state is
	// published to the snapshot topic, and the written offsets committed to
	// MonitoringGroup (always at the end too); > 0.
	SnapshotInterval time.Duration
	MonitoringGroup  string
}

// Start takes the partitions (their locks) and restores each from the
// newest of its checkpoint file and its snapshot in Kafka, both checked
// against the partition's log before anything is consumed: of this log
// (topic, topic ID, partition), their offset in the log — the client would
// otherwise move an offset outside the log to the nearest end without a
// word, and count records twice or skip them — and, for the file, ending
// with the log's last report before its offset (anchored). The state it
// continues from is written at once: the file in the original's format, its
// log beside it. client is an admin client that also publishes the
// snapshots (snapshot.ClientOpts).
func Start(ctx context.Context, log *slog.Logger, client *kgo.Client, store *checkpoint.Store, cfg Config, m *Metrics) (*Consumer, error) {
	if cfg.TopicCheckInterval <= 0 || cfg.SnapshotInterval <= 0 || cfg.MonitoringGroup == "" {
		return nil, fmt.Errorf("consume: TopicCheckInterval %s, SnapshotInterval %s, MonitoringGroup %q: want > 0, > 0, a group",
			cfg.TopicCheckInterval, cfg.SnapshotInterval, cfg.MonitoringGroup)
	}
	adm := kadm.NewClient(client)
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
	fail := func(err error) (*Consumer, error) {
		c.Close()
		return nil, err
	}
	starts, err := kafkaadmin.StartOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		return fail(err)
	}
	ends, err := kafkaadmin.EndOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		return fail(err)
	}
	// Where the log ends for a read committed consumer: the lag metrics'
	// log end until the first fetch.
	stable, err := kafkaadmin.StableOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		return fail(err)
	}
	if err := snapshot.Ensure(ctx, log, adm, topic); err != nil {
		return fail(err)
	}
	r := restorer{store: store, cfg: cfg, log: log, adm: adm}
	if r.reports, err = logread.New(ctx, client, cfg.Topic); err != nil {
		return fail(err)
	}
	if r.snapshots, err = logread.New(ctx, client, snapshot.Topic(cfg.Topic)); err != nil {
		return fail(err)
	}
	logs := map[int32]stats.Log{}
	for _, p := range cfg.Partitions {
		want := stats.Log{Topic: cfg.Topic, TopicID: topic.ID(), Partition: p}
		part, rewrite, err := r.restore(ctx, want, starts[p], ends[p])
		if err != nil {
			return fail(err)
		}
		// From here on the partition is this log's, its file in the exact
		// format: a state restored from its snapshot, or a file of the
		// previous release (its log inside), is written at once.
		if err := store.SaveLog(p, want); err != nil {
			return fail(err)
		}
		if rewrite {
			if err := store.Save(p, part); err != nil {
				return fail(err)
			}
		}
		var writtenAt time.Time // the file's, if there is one
		if fi, err := os.Stat(store.Path(p)); err == nil {
			writtenAt = fi.ModTime()
		}
		logs[p] = want
		c.parts[p] = part
		c.pm[p] = m.partition(p)
		c.pm[p].offset.Set(float64(part.Offset))
		c.pm[p].lag.start(part.Offset, stable[p], writtenAt)
	}
	c.pub = newPublisher(client, log, m, cfg.Topic, cfg.MonitoringGroup, cfg.SnapshotInterval, logs)
	return c, nil
}

// restorer decides where each partition continues.
type restorer struct {
	store     *checkpoint.Store
	cfg       Config
	log       *slog.Logger
	adm       *kadm.Client
	reports   *logread.Reader // the reports topic
	snapshots *logread.Reader // its snapshot topic
}

// restore returns the state log's partition continues from: the newest of
// its file and its snapshot that fit the log [start, end]; with neither, the
// log's start (startWithoutCheckpoint). A file that does not fit is an
// error, or (OnOutOfRange restart) moved aside. rewrite says the file does
// not hold the state as it must be written (restored from the snapshot, or
// in the previous release's format).
func (r *restorer) restore(ctx context.Context, log stats.Log, start, end int64) (_ *stats.Partition, rewrite bool, _ error) {
	var afresh bool
	p := log.Partition
	file, inner, err := r.file(ctx, log, start, end)
	if errors.Is(err, errBackedUp) {
		// Moved aside (ON_OFFSET_OUT_OF_RANGE=restart): the log's start
		// will do, unless the snapshot does better.
		afresh = true
	} else if err != nil {
		return nil, false, err
	}
	snap, err := snapshot.Latest(ctx, r.adm, r.snapshots, log)
	if err != nil {
		return nil, false, fmt.Errorf("partition %d: read its snapshot: %w", p, err)
	}
	if snap != nil {
		if misfit := fits(snap.State, start, end); misfit != "" {
			r.log.Warn("the partition's snapshot does not fit its log; not restored from", "partition", p, "snapshot_offset", snap.State.Offset,
				"why", misfit, "log_start", start, "log_end", end)
			snap = nil
		}
	}
	switch {
	case snap != nil && (file == nil || snap.State.Offset > file.Offset):
		from := "no checkpoint here"
		if file != nil {
			from = fmt.Sprintf("the checkpoint's offset is %d", file.Offset)
		}
		r.log.Info("restored from the snapshot topic", "partition", p, "offset", snap.State.Offset, "why", from,
			"snapshot", fmt.Sprintf("%s partition %d offset %d", snapshot.Topic(log.Topic), p, snap.Offset), "log_end", end)
		return snap.State, true, nil
	case file != nil:
		r.log.Info("resuming from checkpoint", "partition", p, "offset", file.Offset, "log_start", start, "log_end", end, "file", r.store.Path(p))
		return file, inner, nil
	}
	if afresh {
		r.log.Warn("starting the partition afresh at the log start", "partition", p, "offset", start)
		return fresh(log, start), false, nil
	}
	part, err := r.startWithoutCheckpoint(log, start)
	return part, false, err
}

// errBackedUp is file's answer for a checkpoint it moved aside.
var errBackedUp = errors.New("the checkpoint was moved aside")

// file is partition log.Partition's checkpoint if it fits the log, nil if
// there is none, errBackedUp if it was moved aside to start afresh; inner says the file
// is not as Save writes it (the previous release's, its log inside, or the
// original's, its averages rounded).
func (r *restorer) file(ctx context.Context, log stats.Log, start, end int64) (_ *stats.Partition, inner bool, _ error) {
	p := log.Partition
	part, err := r.store.Load(p)
	if err != nil || part == nil {
		return nil, false, err
	}
	inner = !r.store.Exact(p, part)
	var misfit error
	if part.Log != nil && !part.Log.Is(log) {
		misfit = fmt.Errorf("checkpoint %s is of another log: %s, not %s (the topic was recreated, or the file comes from another topic or partition)",
			r.store.Path(p), part.Log, log)
	} else if why := fits(part, start, end); why != "" {
		misfit = fmt.Errorf("checkpoint %s has offset %d, %s: partition %d holds offsets %d to %d", r.store.Path(p), part.Offset, why, p, start, end)
	} else if err := anchored(ctx, r.reports, p, part); err != nil {
		if ctx.Err() != nil || kafkaconfig.Permanent(err) {
			return nil, false, err
		}
		misfit = fmt.Errorf("checkpoint %s is not this partition's stats: %w (a file copied from another partition?)", r.store.Path(p), err)
	}
	if misfit == nil {
		if part.Log == nil {
			r.log.Info("checkpoint in the original format, without its log: taken as this partition's "+
				"(it ends with the log's last report before its offset); its log is kept beside it from now on",
				"partition", p, "file", r.store.Path(p), "log", log.String())
		}
		part.Log = &log
		return part, inner, nil
	}
	if r.cfg.OnOutOfRange == OutOfRangeFail {
		return nil, false, fmt.Errorf("%w; set ON_OFFSET_OUT_OF_RANGE=restart to keep the file as a backup and start the partition afresh", misfit)
	}
	backup, err := r.store.Backup(p, time.Now())
	if err != nil {
		return nil, false, err
	}
	r.log.Warn("the checkpoint is kept as a backup; the partition starts afresh", "partition", p, "reason", misfit.Error(), "backup", backup)
	return nil, false, errBackedUp
}

// fits says why state's offset is not in the log [start, end]; "" if it is.
func fits(state *stats.Partition, start, end int64) string {
	switch {
	case state.Offset < start:
		return "before the log start (records were deleted by retention)"
	case state.Offset > end:
		return "past the log end (the topic was recreated or the broker lost its log)"
	}
	return ""
}

// startWithoutCheckpoint starts a partition that has no file and no
// snapshot: at the log start if that is offset 0, the whole partition counted. A log that starts
// later lost its first records, and a lost disk's stats counted from there
// would look whole while missing them: that takes startAtLogStart.
func (r *restorer) startWithoutCheckpoint(log stats.Log, start int64) (*stats.Partition, error) {
	p := log.Partition
	switch {
	case start == 0:
		r.log.Info("no checkpoint and no snapshot, starting at the log start", "partition", p, "offset", start, "log", log.String())
	case !r.cfg.StartAtLogStart:
		return nil, fmt.Errorf("partition %d has no checkpoint and no snapshot, and its log starts at offset %d, not 0: records 0-%d are deleted (retention or DeleteRecords), "+
			"so stats counted from here would miss them. Restore %s, or set START_AT_LOG_START=true to count from offset %[2]d on",
			p, start, start-1, r.store.Path(p))
	default:
		r.log.Warn(fmt.Sprintf("no checkpoint and no snapshot, starting at the log start (START_AT_LOG_START): offsets 0-%d are deleted and not counted in the stats", start-1),
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
