// Package producers measures the producer at full speed against its
// references on the same broker, in turns: a raw franz-go produce of the
// same records (its ceiling, `bench rawproduce`) and Kafka's own
// ProducerPerformance, idempotent and then transactional too.
package producers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/hack/bench/internal/service"
)

// Config is what the producers' measurement needs.
type Config struct {
	Records   int64 // reports of each pass
	Reps      int   // counted runs of each producer
	Raw, Perf bool  // the raw franz-go produce and ProducerPerformance besides ours
	Self      string
	Repo      string // the repository, for Kafka's tools
	Services  *service.Binaries
	Kafka     *kafka.Admin
	Processes *process.Runner
	Log       *progress.Log
}

// Run is one producer at full speed.
type Run struct {
	Records   int64
	Took      time.Duration // the producing itself, as the process measures it
	Wall      time.Duration // process start to exit
	PerSec    float64
	MBPerSec  float64 // MB = 2^20 bytes of key+value, as Kafka's tools count
	RSS       int64   // peak
	CPU       time.Duration
	TxnMillis float64 // mean transaction length
	// Kafka's tool only
	AvgLatencyMs, P99LatencyMs float64
}

// Results are the runs of each producer, in turns.
type Results struct {
	KeySize, ValueSize float64 // of the records, on average, as in the topic
	Ours               []Run
	Raw                []Run
	Perf               []Run
	PerfTxn            []Run // ProducerPerformance, transactional
}

// txnRecords is the producer's default TXN_MAX_RECORDS.
const txnRecords = 10_000

// measurement is one Measure.
type measurement struct {
	Config
	res Results
}

// Measure runs each producer cfg.Reps times, in turns, and returns the first
// topic our producer filled and whether there is one, with the runs.
func Measure(ctx context.Context, cfg Config) (topic string, ok bool, res Results) {
	m := &measurement{Config: cfg}
	// passes are one run of each producer, labelled label, a sync before
	// each.
	passes := func(label string) []func() {
		return []func(){
			func() {
				t := fmt.Sprintf("bench-reports-%d-%s", time.Now().Unix(), strings.ReplaceAll(label, "/", "-"))
				syscall.Sync()
				if m.Log.Step("producer at full speed ("+label+")", func() error { return m.ours(ctx, t) }) && !ok {
					topic, ok = t, true
				}
			},
			func() {
				if m.Raw && len(m.res.Ours) > 0 { // it takes our record size
					syscall.Sync()
					m.Log.Step("raw franz-go produce ("+label+")", func() error { return m.raw(ctx) })
				}
			},
			func() {
				if m.Perf && len(m.res.Ours) > 0 {
					syscall.Sync()
					m.Log.Step("Kafka ProducerPerformance ("+label+")", func() error { return m.perf(ctx) })
				}
			},
		}
	}
	if m.Reps > 0 {
		// A run of each first, not counted: on a broker just started the
		// first passes run at half the speed of the later ones (its JIT,
		// its page cache), whichever producer goes first.
		for _, pass := range passes("warm-up") {
			pass()
		}
		m.res.Ours, m.res.Raw, m.res.Perf, m.res.PerfTxn = nil, nil, nil, nil
	}
	for rep := 1; rep <= m.Reps; rep++ {
		// As for the consumers: the order reversed every other run.
		ps := passes(fmt.Sprintf("%d/%d", rep, m.Reps))
		if rep%2 == 0 {
			slices.Reverse(ps)
		}
		for _, pass := range ps {
			pass()
		}
	}
	return topic, ok, m.res
}
