// Package consumers measures the stats consumer's pass over a topic, from
// offset 0 to the end, against its references on the same broker, in
// turns: a raw franz-go consume of the same partitions with the same client
// options and no work per record (`bench rawconsume`), Kafka's own
// ConsumerPerformance, and the Kafka Streams peer doing the same job.
package consumers

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/metrics"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/hack/bench/internal/service"
	"github.com/weatherstream/weather/hack/bench/streams"
)

// Config is what the consumers' measurement needs.
type Config struct {
	Records                   int64 // the reports of the topic
	Reps                      int   // runs of each consumer
	Stats, Raw, Perf, Streams bool  // which consumers run
	Self                      string
	Repo                      string // the repository, for Kafka's tools and the Streams app
	Dir                       string // the run directory
	Services                  *service.Binaries
	Kafka                     *kafka.Admin
	Processes                 *process.Runner
	Log                       *progress.Log
}

// Run is one pass over the topic from offset 0 to the end.
type Run struct {
	PerSec   float64       // reports/s from the first batch to the end
	Wall     time.Duration // process start to the end
	WallRate float64       // reports/s over wall
	RSS      int64         // peak resident memory (VmHWM)
	CPU      time.Duration
	// stats consumer only: checkpoint writes, from its histogram
	CkptP50, CkptP99, CkptMean time.Duration
	CkptCount                  int64
	// ConsumerPerformance only: its rebalance (group join) time
	Rebalance time.Duration
}

// Results are the passes of each consumer, in turns.
type Results struct {
	Stats, Raw  []Run
	Perf        []Run // ConsumerPerformance
	Streams     []streams.Run
	Checkpoints metrics.Histogram // checkpoint writes of every stats consumer pass
}

// measurement is one Measure.
type measurement struct {
	Config
	offsets  int64  // of the topic, reports and transaction markers; 0 until a stats consumer pass
	statsDir string // the files of the last stats consumer pass
	res      Results
}

// Measure reads topic from offset 0 to the end with each consumer, cfg.Reps
// times each, in turns, so that a slow minute of the machine hits all
// alike. The stats consumer and the raw consume swap places every run
// (ABBA), so that a trend over the run (the broker's JIT warming up)
// favours neither; before each pass the dirty pages of the passes before
// are written out (sync), so that no pass pays for another's writeback with
// its fsyncs.
func Measure(ctx context.Context, cfg Config, topic string) Results {
	m := &measurement{Config: cfg}
	for rep := 1; rep <= m.Reps; rep++ {
		n := fmt.Sprintf(" (%d/%d)", rep, m.Reps)
		ours := func() {
			if m.Stats {
				syscall.Sync()
				m.Log.Step("stats consumer, offset 0 to the end"+n, func() error { return m.stats(ctx, topic) })
			}
		}
		raw := func() {
			if m.Raw {
				syscall.Sync()
				m.Log.Step("raw franz-go consume"+n, func() error { return m.raw(ctx, topic) })
			}
		}
		if rep%2 == 1 {
			ours()
			raw()
		} else {
			raw()
			ours()
		}
		if m.Perf {
			syscall.Sync()
			m.Log.Step("Kafka ConsumerPerformance"+n, func() error { return m.perf(ctx, topic) })
		}
		if m.Streams && rep <= streams.Reps {
			syscall.Sync()
			m.Log.Step("Kafka Streams, the same job"+n, func() error { return m.streams(ctx, topic) })
		}
	}
	return m.res
}

// streams runs the Kafka Streams peer and compares it with the last stats
// consumer pass.
func (m *measurement) streams(ctx context.Context, topic string) error {
	run, err := streams.Measure(ctx, streams.Config{Records: m.Records, Repo: m.Repo, Dir: m.Dir,
		Kafka: m.Kafka, Processes: m.Processes, Log: m.Log}, topic, m.statsDir)
	if run != nil {
		m.res.Streams = append(m.res.Streams, *run)
	}
	return err
}

// reports converts offsets (which count the transaction markers too) to
// reports, using the whole topic's ratio.
func (m *measurement) reports(offsets int64) float64 {
	if m.offsets == 0 {
		return float64(offsets)
	}
	return float64(offsets) * float64(m.Records) / float64(m.offsets)
}

// window is the rate from the first batch to the end: total-first offsets
// in d. If the first batch held half the topic or more (a small -records),
// that says nothing, and the rate with start-up, wallRate, is returned.
func (m *measurement) window(total, first int64, d time.Duration, wallRate float64) float64 {
	if first*2 > total || d <= 0 {
		m.Log.Printf("(the first batch held %s of %s offsets: the rate includes start-up)", format.Count(first), format.Count(total))
		return wallRate
	}
	return m.reports(total-first) / d.Seconds()
}
