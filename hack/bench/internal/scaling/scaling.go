// Package scaling measures how cost grows: more partitions for one
// consumer, more consumer processes over one topic, more stations (bigger
// checkpoints). Each point is one stats consumer pass (or several
// processes' together) over a topic of its own, from offset 0 to the end,
// on the run's broker; the median of a few.
package scaling

import (
	"context"

	"github.com/weatherstream/weather/hack/bench/internal/consumerpass"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
)

// The points of each series, in order: a row of the table and a point of
// the plot each.
var (
	// Partitions is the partitions of one consumer's topic.
	Partitions = []int{4, 16, 64}
	// Processes is the consumer processes sharing one topic of
	// ProcessesPartitions partitions.
	Processes = []int{1, 2, 4}
	// Stations is the stations of a topic of 4 partitions, one consumer.
	Stations = []int{10, 1000, 10000}
)

const (
	// PartitionsStations is the stations of the partition and process
	// series: enough for every partition to have data (10 stations would
	// leave most of 64 empty).
	PartitionsStations = 1000
	// ProcessesPartitions is the partitions of the process series.
	ProcessesPartitions = 16
)

// Series are the three series of one run.
type Series struct {
	Records                       int64 // reports of each topic
	Reps                          int   // passes of each point
	Partitions, Procs, Stations   []consumerpass.Point
	PartStations, ProcsPartitions int // the stations of the partition series, the partitions of the process one
}

// Empty reports whether no point was measured.
func (s Series) Empty() bool { return len(s.Partitions)+len(s.Procs)+len(s.Stations) == 0 }

// Measure measures the three series. It returns the points measured, even
// if it fails.
func Measure(ctx context.Context, cfg consumerpass.Config, log *progress.Log) (Series, error) {
	s := Series{Records: cfg.Records, Reps: max(1, cfg.Reps), PartStations: PartitionsStations, ProcsPartitions: ProcessesPartitions}
	topics := map[[2]int]string{} // (partitions, stations) -> topic
	topic := func(p, st int) (string, error) {
		if t, ok := topics[[2]int{p, st}]; ok {
			return t, nil
		}
		log.Printf("scaling: producing %s reports of %d stations into %d partitions", format.Count(cfg.Records), st, p)
		t, err := consumerpass.Topic(ctx, cfg, p, st)
		topics[[2]int{p, st}] = t
		return t, err
	}
	for _, p := range Partitions {
		t, err := topic(p, s.PartStations)
		if err != nil {
			return s, err
		}
		pt, _, err := consumerpass.Median(ctx, cfg, "scale-partitions", t, 1)
		if err != nil {
			return s, err
		}
		pt.X = p
		s.Partitions = append(s.Partitions, pt)
		log.Printf("scaling: %d partitions, 1 consumer: %.0f reports/s, %.0f checkpoint writes/s", p, pt.PerSec, pt.CkptPerSec)
	}
	for _, n := range Processes {
		t, err := topic(s.ProcsPartitions, s.PartStations)
		if err != nil {
			return s, err
		}
		pt, _, err := consumerpass.Median(ctx, cfg, "scale-consumers", t, n)
		if err != nil {
			return s, err
		}
		pt.X = n
		s.Procs = append(s.Procs, pt)
		log.Printf("scaling: %d consumers over %d partitions: %.0f reports/s in all", n, s.ProcsPartitions, pt.PerSec)
	}
	// The files grow with the stations.
	for _, st := range Stations {
		t, err := topic(4, st)
		if err != nil {
			return s, err
		}
		pt, dir, err := consumerpass.Median(ctx, cfg, "scale-stations", t, 1)
		if err != nil {
			return s, err
		}
		if pt.Restart, err = consumerpass.StartUp(ctx, cfg, t, dir, 4); err != nil {
			return s, err
		}
		pt.X = st
		s.Stations = append(s.Stations, pt)
		log.Printf("scaling: %d stations: %.0f reports/s; files of %s, a write %s, start-up %s",
			st, pt.PerSec, format.Bytes(pt.FileBytes), format.Ms(pt.CkptMean), format.Ms(pt.Restart))
	}
	return s, nil
}
