// Package snapshots measures what the snapshot topic costs and gives, at a
// few numbers of stations: passes with snapshots every second (the
// default) against passes with one only at the end (SNAPSHOT_INTERVAL=1h:
// the baseline), taken in turns; the bytes the snapshots put on the topic;
// and the time a consumer on an empty disk takes to restore a partition
// from its snapshot and be consuming, beside the start-up over its own
// file.
package snapshots

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/consumerpass"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/services/common/snapshot"
)

// Stations are the numbers of stations measured, one Run each.
var Stations = []int{10, 10_000}

// Run is the measurement at one number of stations.
type Run struct {
	Stations         int
	With, Without    []consumerpass.Point
	BytesPerSec      []float64 // into the snapshot topic, passes with snapshots
	Restore, OwnFile time.Duration
	StateBytes       int64 // one partition's state (its file)
}

// Measure measures at each of Stations. It returns the runs measured, even
// if it fails.
func Measure(ctx context.Context, cfg consumerpass.Config, log *progress.Log) ([]Run, error) {
	var runs []Run
	for _, stations := range Stations {
		r, err := measure(ctx, cfg, log, stations)
		if err != nil {
			return runs, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// measure measures at stations stations, on a topic of 4 partitions.
func measure(ctx context.Context, cfg consumerpass.Config, log *progress.Log, stations int) (Run, error) {
	log.Printf("snapshots: producing %s reports of %d stations into 4 partitions", format.Count(cfg.Records), stations)
	topic, err := consumerpass.Topic(ctx, cfg, 4, stations)
	if err != nil {
		return Run{}, err
	}
	r := Run{Stations: stations}
	var lastDir string
	for i := range max(1, cfg.Reps) {
		without, _, err := consumerpass.Pass(ctx, cfg, "snapshots-off", topic, 1, "SNAPSHOT_INTERVAL=1h")
		if err != nil {
			return r, err
		}
		with, dir, err := consumerpass.Pass(ctx, cfg, "snapshots-on", topic, 1)
		if err != nil {
			return r, err
		}
		size, err := cfg.Kafka.TopicBytes(ctx, snapshot.Topic(topic))
		if err != nil {
			return r, err
		}
		r.Without, r.With, lastDir = append(r.Without, without), append(r.With, with), dir
		r.BytesPerSec = append(r.BytesPerSec, float64(size)/with.Took.Seconds())
		log.Printf("snapshots, %d stations, pass %d: %.0f reports/s with snapshots, %.0f without; %s/s into the snapshot topic",
			stations, i+1, with.PerSec, without.PerSec, format.Bytes(int64(r.BytesPerSec[len(r.BytesPerSec)-1])))
	}
	// The last pass left a snapshot of every partition at its end:
	// partition 0 on an empty disk restores from it.
	if r.Restore, err = consumerpass.StartUp(ctx, cfg, topic, filepath.Join(cfg.Dir, fmt.Sprintf("restore-%d-%d", stations, time.Now().UnixNano())), 1); err != nil {
		return r, err
	}
	if r.OwnFile, err = consumerpass.StartUp(ctx, cfg, topic, lastDir, 1); err != nil {
		return r, err
	}
	if fi, err := os.Stat(filepath.Join(lastDir, "partition-0.json")); err == nil {
		r.StateBytes = fi.Size()
	}
	log.Printf("snapshots, %d stations: restore of a partition (%s) from its snapshot on an empty disk %s, start-up over its own file %s",
		stations, format.Bytes(r.StateBytes), format.Ms(r.Restore), format.Ms(r.OwnFile))
	return r, nil
}
