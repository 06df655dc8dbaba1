package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// goBench is one line of `go test -bench` output.
type goBench struct {
	pkg, name         string
	nsPerOp           float64
	bytesOp, allocsOp float64
	extra             []string // custom metrics, "30.10 B/record"
}

// goBenchPackages hold the *_bench_test.go files of the hot functions, by
// module. Each module is tested on its own (GOWORK=off, as the images are
// built), so that work in progress elsewhere in go.work cannot break the run.
var goBenchPackages = []struct {
	module string
	pkgs   []string
}{
	{"services/common", []string{"./generator", "./codec", "./stats", "./checkpoint"}},
	{"services/producer", []string{"./internal/stream"}},
	{"services/consumer", []string{"./internal/consume"}},
}

// what the benchmarks measure, for the table.
var goBenchWhat = map[string]string{
	"generator.Fill":      "producer: generate one report",
	"codec.Encode":        "encode one report into a new slice",
	"codec.EncodeReuse":   "encode one report into a reused buffer",
	"stream.Ahead":        "producer: per-record work before Produce (generate, encode, into a batch), on its own goroutine",
	"codec.Decode":        "consumer: decode and check one record",
	"stats.Add":           "consumer: stats update of one record",
	"consume.Apply":       "consumer: fold one record (decode, checks, stats, metrics)",
	"stats.MarshalJSON":   "checkpoint: serialize one partition (10 stations)",
	"checkpoint.Save":     "checkpoint write: marshal, write, fsync, rename, fsync dir",
	"stats.Parse":         "restart: parse one checkpoint",
	"checkpoint.Load":     "restart: read and parse one checkpoint",
	"stream.RunFullSpeed": "producer loop against the broker",
	"consume.RunCatchUp":  "consumer loop against the broker",
}

// runGoBench runs the Go benchmarks, before the broker starts. The broker
// benchmarks skip themselves (no KAFKA_BROKERS); `make bench-profile` runs
// them. Checkpoint writes go to the run directory, on the same disk as the
// consumer's checkpoints later.
func (b *bench) runGoBench(ctx context.Context) error {
	for _, m := range goBenchPackages {
		args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", b.benchtime, "-count", "1"}, m.pkgs...)
		b.progress("(cd %s && go %s)", m.module, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = filepath.Join(b.repo, m.module)
		cmd.Env = append(os.Environ(), "GOWORK=off", "KAFKA_BROKERS=", "CHECKPOINT_BENCH_DIR="+b.runDir)
		var mu sync.Mutex
		var pkg string
		var stderr strings.Builder
		cmd.Stdout = &lineWriter{fn: func(l string) {
			mu.Lock()
			defer mu.Unlock()
			if p, ok := strings.CutPrefix(l, "pkg: "); ok {
				pkg = path.Base(p)
				return
			}
			if gb, ok := parseGoBench(pkg, l); ok {
				b.res.goBench = append(b.res.goBench, gb)
				b.progress("gobench: %s.%s %.1f ns/op %.0f B/op %.0f allocs/op %s", gb.pkg, gb.name, gb.nsPerOp, gb.bytesOp, gb.allocsOp, strings.Join(gb.extra, " "))
			}
		}}
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go test -bench in %s: %w\n%s", m.module, err, stderr.String())
		}
	}
	return nil
}

// parseGoBench parses "BenchmarkEncode-2  1677312  195.3 ns/op  30.10 B/record  31 B/op  1 allocs/op".
func parseGoBench(pkg, line string) (goBench, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return goBench{}, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		name = name[:i]
	}
	gb := goBench{pkg: pkg, name: name}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return goBench{}, false
		}
		switch f[i+1] {
		case "ns/op":
			gb.nsPerOp = v
		case "B/op":
			gb.bytesOp = v
		case "allocs/op":
			gb.allocsOp = v
		default:
			gb.extra = append(gb.extra, f[i]+" "+f[i+1])
		}
	}
	return gb, true
}
