package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Snapshots reads the newest snapshot of each of topic's partitions from its
// snapshot topic (snapshotTopic), of the log topicID, as a File: the
// snapshot's state read the original's way (ParseFile), its log from the
// record. Independent of the services' code: plain encoding/json over the
// documented record ({"topic", "topic_id", "partition", "state"}). A
// partition without a snapshot is absent. opts connect the client.
func Snapshots(ctx context.Context, opts []kgo.Opt, snapshotTopic, topicID string, partitions int32) (map[int32]File, error) {
	cl, err := kgo.NewClient(slices.Clip(opts)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, snapshotTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot topic %s: %w", snapshotTopic, err)
	}
	const window = 8 // as many as a late writer can have put after the newest
	from, until := map[int32]kgo.Offset{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Partition < partitions && o.Offset > 0 {
			from[o.Partition] = kgo.NewOffset().At(max(0, o.Offset-window))
			until[o.Partition] = o.Offset
		}
	})
	out := map[int32]File{}
	if len(from) == 0 {
		return out, nil
	}
	reader, err := kgo.NewClient(append(slices.Clip(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{snapshotTopic: from}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // compaction may have removed the first ones asked for
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20),
	)...)
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	for len(until) > 0 {
		fetches := reader.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("snapshot topic %s: partitions %v not read to their end: %w", snapshotTopic, SortedKeys(until), err)
		}
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("snapshot partition %d: %w", p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := until[r.Partition]; ok && r.Offset >= end-1 {
				delete(until, r.Partition)
			}
			var v struct {
				Topic     string          `json:"topic"`
				TopicID   string          `json:"topic_id"`
				Partition int32           `json:"partition"`
				State     json.RawMessage `json:"state"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				ferr = fmt.Errorf("snapshot partition %d offset %d: %w", r.Partition, r.Offset, err)
				return
			}
			if v.TopicID != topicID || v.Partition != r.Partition {
				return // of another log, or misplaced: not this partition's
			}
			f, err := ParseFile(v.State)
			if err != nil {
				ferr = fmt.Errorf("snapshot partition %d offset %d: %w", r.Partition, r.Offset, err)
				return
			}
			f.Log = Log{Topic: v.Topic, TopicID: v.TopicID, Partition: v.Partition}
			if old, ok := out[r.Partition]; !ok || f.Offset >= old.Offset {
				out[r.Partition] = f
			}
		})
		if ferr != nil {
			return nil, ferr
		}
	}
	return out, nil
}
