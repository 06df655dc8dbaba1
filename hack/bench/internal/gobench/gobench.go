// Package gobench runs the Go benchmarks (testing.B) of the hot functions,
// module by module, and reads their results.
package gobench

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

	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
)

// Result is one line of `go test -bench` output.
type Result struct {
	Pkg, Name         string
	NsPerOp           float64
	BytesOp, AllocsOp float64
	Extra             []string // custom metrics, "30.10 B/record"
}

// packages hold the *_bench_test.go files of the hot functions, by module.
// Each module is tested on its own (GOWORK=off, as the images are built),
// so that work in progress elsewhere in go.work cannot break the run.
var packages = []struct {
	module string
	pkgs   []string
}{
	{"services/common", []string{"./generator", "./codec", "./stats", "./checkpoint"}},
	{"services/producer", []string{"./internal/stream"}},
	{"services/consumer", []string{"./internal/consume"}},
}

// what the benchmarks measure, for the table.
var what = map[string]string{
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

// What is what the benchmark measures, for the table.
func (r Result) What() string { return what[r.Pkg+"."+r.Name] }

// Run runs the Go benchmarks of the repository at repo, before the broker
// starts, each for benchtime, and returns the results so far even if it
// fails. The broker benchmarks skip themselves (no KAFKA_BROKERS); `make
// bench-profile` runs them. Checkpoint writes go to dir, the run
// directory, on the same disk as the consumer's checkpoints later.
func Run(ctx context.Context, repo, benchtime, dir string, log *progress.Log) ([]Result, error) {
	var results []Result
	for _, m := range packages {
		args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime, "-count", "1"}, m.pkgs...)
		log.Printf("(cd %s && go %s)", m.module, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = filepath.Join(repo, m.module)
		cmd.Env = append(os.Environ(), "GOWORK=off", "KAFKA_BROKERS=", "CHECKPOINT_BENCH_DIR="+dir)
		var mu sync.Mutex
		var pkg string
		var stderr strings.Builder
		cmd.Stdout = process.Lines(func(l string) {
			mu.Lock()
			defer mu.Unlock()
			if p, ok := strings.CutPrefix(l, "pkg: "); ok {
				pkg = path.Base(p)
				return
			}
			if r, ok := parse(pkg, l); ok {
				results = append(results, r)
				log.Printf("gobench: %s.%s %.1f ns/op %.0f B/op %.0f allocs/op %s", r.Pkg, r.Name, r.NsPerOp, r.BytesOp, r.AllocsOp, strings.Join(r.Extra, " "))
			}
		})
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return results, fmt.Errorf("go test -bench in %s: %w\n%s", m.module, err, stderr.String())
		}
	}
	return results, nil
}

// parse parses "BenchmarkEncode-2  1677312  195.3 ns/op  30.10 B/record  31 B/op  1 allocs/op".
func parse(pkg, line string) (Result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return Result{}, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		name = name[:i]
	}
	r := Result{Pkg: pkg, Name: name}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false
		}
		switch f[i+1] {
		case "ns/op":
			r.NsPerOp = v
		case "B/op":
			r.BytesOp = v
		case "allocs/op":
			r.AllocsOp = v
		default:
			r.Extra = append(r.Extra, f[i]+" "+f[i+1])
		}
	}
	return r, true
}
