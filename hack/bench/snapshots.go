package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/weatherstream/weather/services/common/snapshot"
)

// snapshotRun is what the snapshot topic costs and gives, at one number of
// stations: passes with snapshots every second (the default) against passes
// with one only at the end (SNAPSHOT_INTERVAL=1h: the baseline), taken in
// turns; the bytes the snapshots put on the topic; and the time a consumer
// on an empty disk takes to restore a partition from its snapshot and be
// consuming, beside the start-up over its own file.
type snapshotRun struct {
	stations         int
	with, without    []scalePoint
	bytesPerSec      []float64 // into the snapshot topic, passes with snapshots
	restore, ownFile time.Duration
	stateBytes       int64 // one partition's state (its file)
}

// Targets of issue 23.
const (
	targetSnapshotCost = 0.95 // throughput with snapshots / without
	targetRestore      = time.Second
)

// snapshotsRun measures at 10 and 10,000 stations.
func (b *bench) snapshotsRun(ctx context.Context) error {
	for _, stations := range []int{10, 10_000} {
		b.progress("snapshots: producing %s reports of %d stations into 4 partitions", fmtCount(b.scaleRecords), stations)
		topic, err := b.scalingTopic(ctx, 4, stations)
		if err != nil {
			return err
		}
		r := snapshotRun{stations: stations}
		var lastDir string
		for i := range max(1, b.scaleReps) {
			without, _, err := b.pass(ctx, "snapshots-off", topic, 1, "SNAPSHOT_INTERVAL=1h")
			if err != nil {
				return err
			}
			with, dir, err := b.pass(ctx, "snapshots-on", topic, 1)
			if err != nil {
				return err
			}
			size, err := b.topicBytes(ctx, snapshot.Topic(topic))
			if err != nil {
				return err
			}
			r.without, r.with, lastDir = append(r.without, without), append(r.with, with), dir
			r.bytesPerSec = append(r.bytesPerSec, float64(size)/with.took.Seconds())
			b.progress("snapshots, %d stations, pass %d: %.0f reports/s with snapshots, %.0f without; %s/s into the snapshot topic",
				stations, i+1, with.perSec, without.perSec, bytesText(int64(r.bytesPerSec[len(r.bytesPerSec)-1])))
		}
		// The last pass left a snapshot of every partition at its end:
		// partition 0 on an empty disk restores from it.
		if r.restore, err = b.startUp(ctx, topic, filepath.Join(b.runDir, fmt.Sprintf("restore-%d-%d", stations, time.Now().UnixNano())), 1); err != nil {
			return err
		}
		if r.ownFile, err = b.startUp(ctx, topic, lastDir, 1); err != nil {
			return err
		}
		if fi, err := os.Stat(filepath.Join(lastDir, "partition-0.json")); err == nil {
			r.stateBytes = fi.Size()
		}
		b.progress("snapshots, %d stations: restore of a partition (%s) from its snapshot on an empty disk %s, start-up over its own file %s",
			stations, bytesText(r.stateBytes), ms(r.restore), ms(r.ownFile))
		b.res.snapshots = append(b.res.snapshots, r)
	}
	return nil
}

// forgetSnapshots deletes topic's snapshot topic, so that a consumer on an
// empty disk starts from offset 0 (it restores from a snapshot otherwise).
func (b *bench) forgetSnapshots(ctx context.Context, topic string) error {
	name := snapshot.Topic(topic)
	resp, err := b.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		topics, err := b.adm.ListTopics(ctx, name)
		if err == nil && !topics.Has(name) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not deleted after a minute", name)
		}
	}
}

// topicBytes is the size of topic's log on the brokers, every partition.
func (b *bench) topicBytes(ctx context.Context, topic string) (int64, error) {
	dirs, err := b.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return 0, err
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if strings.EqualFold(p.Topic, topic) {
				size += p.Size
			}
		})
	})
	return size, nil
}
