// Package settings is the bench's command line: every flag, its default and
// its help, and the paths it names made absolute.
package settings

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Settings are the flags of one run.
type Settings struct {
	Repo, BinDir, Out    string // absolute
	Records              int64
	ScaleRecords         int64
	ScaleReps            int
	Latency, LatencyFast time.Duration
	FastRate             int
	Restarts             int
	DashboardClients     int
	DashboardLoad        time.Duration
	Reps                 int
	GoBench              bool
	Benchtime            string
	Brokers              string // "": start a broker
	Keep                 bool
	Only                 []string // the measurements to run; none: all
	Topic                string
	// K=V each, over the services' defaults.
	ProducerEnv, ConsumerEnv []string
}

// ErrUsage is a command line the flag package refused; it has said why.
var ErrUsage = errors.New("usage")

// Parse parses the command line args.
func Parse(args []string) (Settings, error) {
	var s Settings
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&s.Repo, "repo", ".", "the repository's root")
	fs.StringVar(&s.BinDir, "bin", ".cache/bench/bin", "directory holding the built producer and consumer")
	fs.Int64Var(&s.Records, "records", 5_000_000, "reports produced at full speed and consumed from offset 0 (passes of seconds: shorter ones drown in noise)")
	fs.Int64Var(&s.ScaleRecords, "scale-records", 2_000_000, "reports of each topic of the scaling series")
	fs.IntVar(&s.ScaleReps, "scale-reps", 3, "passes of each point of the scaling series (the median is shown)")
	fs.DurationVar(&s.Latency, "latency", 60*time.Second, "how long to produce at the default pace for the end-to-end latency; 0: skip")
	fs.DurationVar(&s.LatencyFast, "latency-fast", 15*time.Second, "how long to produce at -fast-rate for the end-to-end latency; 0: skip")
	fs.IntVar(&s.FastRate, "fast-rate", 50_000, "the fast pace, reports/s")
	fs.IntVar(&s.Restarts, "restarts", 5, "SIGKILL/restart cycles of the stats consumer")
	fs.IntVar(&s.DashboardClients, "dashboard-clients", 100, "concurrent clients of the dashboard's API (and as many event streams)")
	fs.DurationVar(&s.DashboardLoad, "dashboard-load", 15*time.Second, "how long the dashboard's API is loaded; 0: skip")
	fs.IntVar(&s.Reps, "reps", 5, "runs of each throughput measurement, in turns with its reference (the table shows medians)")
	fs.BoolVar(&s.GoBench, "gobench", true, "run the Go benchmarks (testing.B) of the hot functions first")
	fs.StringVar(&s.Benchtime, "benchtime", "1s", "-benchtime of the Go benchmarks")
	fs.StringVar(&s.Out, "out", ".cache/bench/results.md", "also write the table here")
	fs.StringVar(&s.Brokers, "brokers", os.Getenv("KAFKA_BROKERS"), "use this broker instead of starting one (default $KAFKA_BROKERS)")
	fs.BoolVar(&s.Keep, "keep", false, "keep the run directory (logs, checkpoint files)")
	only := fs.String("only", "", "run only these measurements (comma-separated): gobench, producer, raw-producer, perf-producer, "+
		"consumer, raw, perf-consumer, streams, restart, scaling, snapshots, latency, latency-fast, dashboard")
	fs.StringVar(&s.Topic, "topic", "", "consume this existing topic of -records reports instead of producing one (skips the producer)")
	producerEnv := fs.String("producer-env", "", "extra environment of every producer, comma-separated K=V (to try settings; shown in the table)")
	consumerEnv := fs.String("consumer-env", "", "extra environment of every stats consumer, comma-separated K=V (to try settings; shown in the table)")
	if err := fs.Parse(args); err != nil {
		return s, ErrUsage
	}
	s.Only, s.ProducerEnv, s.ConsumerEnv = list(*only), list(*producerEnv), list(*consumerEnv)
	var err error
	if s.Repo, err = filepath.Abs(s.Repo); err != nil {
		return s, err
	}
	if !filepath.IsAbs(s.BinDir) {
		s.BinDir = filepath.Join(s.Repo, s.BinDir)
	}
	if !filepath.IsAbs(s.Out) {
		s.Out = filepath.Join(s.Repo, s.Out)
	}
	return s, nil
}

// list is the items of a comma-separated list, trimmed, the empty ones left
// out.
func list(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// Want reports whether measurement name is to run (-only).
func (s Settings) Want(name string) bool {
	return len(s.Only) == 0 || slices.Contains(s.Only, name)
}
