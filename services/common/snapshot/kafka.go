package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/stats"
)

// Configs are the snapshot topic's: compacted (the newest snapshot per
// partition is kept, the rest cleaned away), records up to MaxBytes, and
// segments rolled every ten minutes so the cleaner can reach them (it never
// cleans the segment being written).
func Configs() map[string]*string {
	return map[string]*string{
		"cleanup.policy":    kadm.StringPtr("compact"),
		"max.message.bytes": kadm.StringPtr(strconv.Itoa(MaxBytes)),
		"segment.ms":        kadm.StringPtr(strconv.Itoa(int((10 * time.Minute).Milliseconds()))),
	}
}

// ClientOpts are what a client publishing snapshots needs: each record to
// the partition it names, zstd (a state is JSON: it compresses well), room
// for the largest.
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(MaxBytes),
		kgo.BrokerMaxWriteBytes(2 * MaxBytes),
	}
}

// Ensure makes the snapshot topic of reports exist with at least its
// partitions (one per reports partition) and its replication factor: it
// creates it if missing, adds partitions the reports topic gained, and
// warns if it is not compacted.
func Ensure(ctx context.Context, log *slog.Logger, adm *kadm.Client, reports kafkaadmin.Topic) error {
	name := Topic(reports.Name)
	rf := int16(max(reports.ReplicationFactor, 1))
	err := kafkaadmin.Retry(ctx, func(ctx context.Context) error {
		resp, err := adm.CreateTopic(ctx, int32(reports.Partitions), rf, Configs(), name)
		if err == nil {
			err = resp.Err
		}
		return err
	})
	switch {
	case err == nil:
		log.Info("created the snapshot topic", "topic", name, "partitions", reports.Partitions, "replication_factor", rf)
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists), errors.Is(err, kerr.TopicAuthorizationFailed):
		// Made before (by another consumer, or by an operator); without the
		// right to create it, it must be.
	default:
		return fmt.Errorf("create snapshot topic %s: %w", name, err)
	}
	look := kafkaadmin.Describe // it exists: a moment's doubt is retried
	if denied := err; errors.Is(denied, kerr.TopicAuthorizationFailed) {
		look = kafkaadmin.Lookup
		if _, err := look(ctx, adm, name); errors.Is(err, kafkaadmin.ErrNoTopic) {
			return fmt.Errorf("create snapshot topic %s: %w", name, denied)
		}
	}
	t, err := look(ctx, adm, name)
	if err != nil {
		return fmt.Errorf("snapshot topic %s: %w", name, err)
	}
	if t.Partitions < reports.Partitions {
		err := kafkaadmin.Retry(ctx, func(ctx context.Context) error {
			resp, err := adm.UpdatePartitions(ctx, reports.Partitions, name)
			if err == nil {
				err = resp.Error()
			}
			return err
		})
		if err != nil && !errors.Is(err, kerr.InvalidPartitions) { // another consumer was first
			return fmt.Errorf("snapshot topic %s: add partitions up to %d: %w", name, reports.Partitions, err)
		}
		log.Info("added partitions to the snapshot topic", "topic", name, "partitions", reports.Partitions, "was", t.Partitions)
	}
	return nil
}

// Latest is the newest snapshot of log's partition (nil: none), from the
// last few records of its snapshot partition: normally the last one is the
// newest, but a consumer that gave the partition up late may have written
// an older one after its successor's. Snapshots of another log (the reports
// topic recreated since) are passed over; one that does not load is an
// error.
// reader reads the snapshot topic.
func Latest(ctx context.Context, adm *kadm.Client, reader *logread.Reader, log stats.Log) (*Snapshot, error) {
	const window = 8
	p := log.Partition
	name := reader.Topic().Name
	ends, err := kafkaadmin.EndOffsets(ctx, adm, name)
	if err != nil {
		return nil, err
	}
	starts, err := kafkaadmin.StartOffsets(ctx, adm, name)
	if err != nil {
		return nil, err
	}
	end, ok := ends[p]
	if !ok || end == 0 {
		return nil, nil
	}
	var (
		newest *Snapshot
		bad    error
	)
	err = reader.Read(ctx, p, max(starts[p], end-window), end, false, func(r *kgo.Record) {
		if r.Attrs.IsControl() {
			return
		}
		s, err := FromRecord(r)
		switch {
		case err != nil:
			bad = err
		case !s.Log.Is(log):
		case newest == nil || s.State.Offset >= newest.State.Offset:
			newest = s
		}
	})
	if err != nil {
		return nil, err
	}
	if newest == nil && bad != nil {
		return nil, bad
	}
	return newest, nil
}
