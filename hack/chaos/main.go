// Command chaos is `make chaos`: a Jepsen-style fault campaign against the
// whole pipeline on a real three-broker Kafka. It starts the cluster (each
// broker behind a Toxiproxy proxy), the producer, two stats consumers and
// the debug consumer as supervised processes, and then, on a seeded random
// schedule, kills and stops processes and brokers (the partitions' leaders
// and the transaction coordinator among them), delays, cuts, black-holes,
// resets and slows the network, fills the checkpoint disk and once deletes
// it. When the producer has produced its count, it heals everything, lets
// the consumers catch up and judges, independently of the services' code:
// every partition file equals a recount of the topic, and the topic holds
// the generated stream with each report exactly once. It prints one table
// and exits 1 on any violation.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the campaign's flags.
type options struct {
	seed      uint64
	reports   int64
	duration  time.Duration
	minFaults int
	dir       string
	keep      bool
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	var o options
	fs.Uint64Var(&o.seed, "seed", 0, "the schedule's seed; 0 = a new one (printed: rerun with it to replay the schedule)")
	fs.Int64Var(&o.reports, "reports", 1_000_000, "reports the producer produces (COUNT)")
	fs.DurationVar(&o.duration, "duration", 5*time.Minute, "how long producing them takes at the producer's pace; faults come throughout")
	fs.IntVar(&o.minFaults, "min-faults", 50, "a run with fewer faults done fails")
	short := fs.Bool("short", false, "the CI version: -reports 150000 -duration 2m -min-faults 15 (flags given win)")
	fs.StringVar(&o.dir, "dir", "", "work dir: brokers' data, logs, the files (default <repo>/.cache/chaos/seed-<seed>)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work dir after a run that passed (one that failed is always kept)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["reports"] {
			o.reports = 150_000
		}
		if !set["duration"] {
			o.duration = 2 * time.Minute
		}
		if !set["min-faults"] {
			o.minFaults = 15
		}
	}
	switch {
	case o.reports < 1000:
		return o, fmt.Errorf("-reports %d: want at least 1000", o.reports)
	case o.duration < 30*time.Second:
		return o, fmt.Errorf("-duration %s: want at least 30s", o.duration)
	case o.duration/time.Duration(o.reports) < time.Microsecond:
		return o, fmt.Errorf("-reports %d in -duration %s is more than a million a second: the pace must be reachable", o.reports, o.duration)
	case o.minFaults < 0:
		return o, fmt.Errorf("-min-faults %d: want >= 0", o.minFaults)
	}
	if o.seed == 0 {
		o.seed = rand.Uint64N(1<<31) + 1 // short enough to type
	}
	if o.dir == "" {
		root, err := repoRoot()
		if err != nil {
			return o, err
		}
		o.dir = filepath.Join(root, ".cache", "chaos", fmt.Sprintf("seed-%d", o.seed))
	}
	return o, nil
}

// repoRoot is the directory of go.work, above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work above %s: run from the repository", dir)
		}
	}
}
