// Command bench answers, with figures from one run on one broker, how many
// reports per second the pipeline sustains, how much memory the stats
// consumer needs, how fast it recovers from SIGKILL and how long a report
// takes from the producer into a checkpoint file. `make bench` runs it:
//
//	bench -repo . -bin .cache/bench/bin
//
// It starts a real Apache Kafka broker (hack/kafka/kafka.sh) unless -brokers or
// KAFKA_BROKERS names one, runs the Go benchmarks of the hot functions, then
// the producer, the stats consumer and Kafka's own perf tools as processes,
// and prints one markdown table with absolute figures and the ratios that the
// targets are about (machines here are noisy: ratios within one run are what
// count). Progress goes to stderr, the table to stdout and to -out.
//
// The bench binary also has two helper modes it runs as child processes, so
// that their memory and CPU are their own:
//
//	bench rawconsume ...   a franz-go consumer doing nothing per record (the consumer's baseline)
//	bench rawproduce ...   a franz-go producer of pre-encoded records (the producer's baseline)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "rawconsume":
			os.Exit(rawConsumeMain(os.Args[2:]))
		case "rawproduce":
			os.Exit(rawProduceMain(os.Args[2:]))
		}
	}
	os.Exit(benchMain(os.Args[1:]))
}

// bench is one run.
type bench struct {
	repo, binDir, runDir, self string
	records                    int64
	scaleRecords               int64
	scaleReps                  int
	latency, latencyFast       time.Duration
	fastRate                   int
	dashClients                int
	dashDuration               time.Duration
	restarts                   int
	reps                       int
	goBench                    bool
	benchtime                  string
	keep                       bool
	only                       []string
	topic                      string
	producer, consumer         *serviceEnv // -producer-env, -consumer-env over the binaries' defaults
	lastStatsDir               string      // the files of the last stats consumer pass

	brokers    string
	brokerPID  int // of the broker the bench started; 0 for one of -brokers
	kafkaHome  string
	stopBroker func()
	adm        *kadm.Client
	start      time.Time

	mu       sync.Mutex
	children map[*child]bool
	logs     int

	res results
}

func benchMain(args []string) int {
	b := &bench{children: map[*child]bool{}, start: time.Now()}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&b.repo, "repo", ".", "the repository's root")
	fs.StringVar(&b.binDir, "bin", ".cache/bench/bin", "directory holding the built producer and consumer")
	fs.Int64Var(&b.records, "records", 5_000_000, "reports produced at full speed and consumed from offset 0 (passes of seconds: shorter ones drown in noise)")
	fs.Int64Var(&b.scaleRecords, "scale-records", 2_000_000, "reports of each topic of the scaling series")
	fs.IntVar(&b.scaleReps, "scale-reps", 3, "passes of each point of the scaling series (the median is shown)")
	fs.DurationVar(&b.latency, "latency", 60*time.Second, "how long to produce at the default pace for the end-to-end latency; 0: skip")
	fs.DurationVar(&b.latencyFast, "latency-fast", 15*time.Second, "how long to produce at -fast-rate for the end-to-end latency; 0: skip")
	fs.IntVar(&b.fastRate, "fast-rate", 50_000, "the fast pace, reports/s")
	fs.IntVar(&b.restarts, "restarts", 5, "SIGKILL/restart cycles of the stats consumer")
	fs.IntVar(&b.dashClients, "dashboard-clients", 100, "concurrent clients of the dashboard's API (and as many event streams)")
	fs.DurationVar(&b.dashDuration, "dashboard-load", 15*time.Second, "how long the dashboard's API is loaded; 0: skip")
	fs.IntVar(&b.reps, "reps", 5, "runs of each throughput measurement, in turns with its reference (the table shows medians)")
	fs.BoolVar(&b.goBench, "gobench", true, "run the Go benchmarks (testing.B) of the hot functions first")
	fs.StringVar(&b.benchtime, "benchtime", "1s", "-benchtime of the Go benchmarks")
	out := fs.String("out", ".cache/bench/results.md", "also write the table here")
	fs.StringVar(&b.brokers, "brokers", os.Getenv("KAFKA_BROKERS"), "use this broker instead of starting one (default $KAFKA_BROKERS)")
	fs.BoolVar(&b.keep, "keep", false, "keep the run directory (logs, checkpoint files)")
	only := fs.String("only", "", "run only these measurements (comma-separated): gobench, producer, raw-producer, perf-producer, "+
		"consumer, raw, perf-consumer, streams, restart, scaling, snapshots, latency, latency-fast, dashboard")
	fs.StringVar(&b.topic, "topic", "", "consume this existing topic of -records reports instead of producing one (skips the producer)")
	producerEnv := fs.String("producer-env", "", "extra environment of every producer, comma-separated K=V (to try settings; shown in the table)")
	consumerEnv := fs.String("consumer-env", "", "extra environment of every stats consumer, comma-separated K=V (to try settings; shown in the table)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, o := range strings.Split(*only, ",") {
		if o = strings.TrimSpace(o); o != "" {
			b.only = append(b.only, o)
		}
	}
	b.producer, b.consumer = parseServiceEnv(*producerEnv), parseServiceEnv(*consumerEnv)
	var err error
	if b.repo, err = filepath.Abs(b.repo); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if !filepath.IsAbs(b.binDir) {
		b.binDir = filepath.Join(b.repo, b.binDir)
	}
	if !filepath.IsAbs(*out) {
		*out = filepath.Join(b.repo, *out)
	}
	if b.self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	for _, svc := range []string{"producer", "consumer", "dashboard"} {
		if _, err := os.Stat(b.bin(svc)); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v (build the services into -bin first; make bench does)\n", err)
			return 2
		}
	}
	for svc, e := range map[string]*serviceEnv{"producer": b.producer, "consumer": b.consumer} {
		if err := e.load(b.bin(svc)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	b.runDir = filepath.Join(b.repo, ".cache", "bench", "run-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(b.runDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = b.run(ctx)
	b.killAll()
	if b.stopBroker != nil {
		b.progress("kafka: stopping the broker ...")
		b.stopBroker()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n(logs of the run: %s)\n", err, b.runDir)
		return 1
	}
	table := b.res.markdown(b)
	fmt.Print(table)
	if sc := b.res.scaling; len(sc.partitions)+len(sc.procs)+len(sc.stations) > 0 {
		png := filepath.Join(filepath.Dir(*out), "scaling.png")
		if err := plotScaling(sc, png); err != nil {
			b.progress("scaling plot: %v", err)
		} else {
			b.progress("scaling plot written to %s", png)
		}
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
		if err := os.WriteFile(*out, []byte(table), 0o644); err == nil {
			b.progress("table written to %s", *out)
		}
	}
	if b.keep || len(b.res.failures) > 0 {
		b.progress("logs and checkpoint files of the run: %s", b.runDir)
	} else {
		os.RemoveAll(b.runDir)
	}
	if len(b.res.failures) > 0 {
		return 1
	}
	return 0
}

// want reports whether measurement name is to run (-only).
func (b *bench) want(name string) bool {
	return len(b.only) == 0 || slices.Contains(b.only, name)
}

func (b *bench) bin(svc string) string { return filepath.Join(b.binDir, svc) }

// run runs every measurement in order. A measurement that fails is reported
// in the table and the others still run, unless they depend on it.
func (b *bench) run(ctx context.Context) error {
	b.res.machine = machine(ctx, b)
	cpuStart := measureCPU(0)
	b.progress("machine: %s; load average %s", b.res.machine.summary(), b.res.machine.loadStart)
	if b.res.machine.busy() {
		b.progress("WARNING: the load average is above half the CPUs: another job is running, figures will be low and noisy")
	}
	if b.goBench && b.want("gobench") {
		b.step("Go benchmarks of the hot functions", func() error { return b.runGoBench(ctx) })
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if b.brokers == "" {
		if err := b.startBroker(ctx); err != nil {
			return err
		}
	} else {
		b.progress("kafka: using the broker at %s", b.brokers)
	}
	admClient, err := b.client()
	if err != nil {
		return err
	}
	defer admClient.Close()
	b.adm = kadm.NewClient(admClient)

	// 1. Producers at full speed; the topic of ours is what the consumers read.
	topic, producerOK := b.producers(ctx)
	if producerOK {
		// 2. Consumers over all four partitions, from offset 0 to the end.
		b.consumers(ctx, topic)
		// 3. Restart after SIGKILL, with a backlog to read.
		if b.want("restart") {
			b.step("restart after SIGKILL", func() error { return b.restart(ctx, topic) })
		}
	}
	// 4. How cost grows: partitions, consumer processes, stations.
	if b.want("scaling") {
		b.step("how cost grows", func() error { return b.scalingRun(ctx) })
	}
	// 4b. What the snapshots cost and give.
	if b.want("snapshots") {
		b.step("snapshots", func() error { return b.snapshotsRun(ctx) })
	}
	// 5. End-to-end latency at the default pace and at the fast one.
	if b.latency > 0 && b.want("latency") {
		b.step("end-to-end latency, default pace", func() error { return b.latencyDefault(ctx) })
	}
	if b.latencyFast > 0 && b.want("latency-fast") {
		b.step(fmt.Sprintf("end-to-end latency, %d reports/s", b.fastRate), func() error { return b.latencyFastPace(ctx) })
	}
	// 6. The dashboard's API under load while the pipeline runs.
	if b.dashDuration > 0 && b.want("dashboard") {
		b.step("the dashboard under load", func() error { return b.dashboardLoad(ctx) })
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b.res.machine.loadEnd = loadAvg()
	b.res.took = time.Since(b.start)
	if b.brokerPID > 0 {
		b.res.machine.otherCores = others(cpuStart, measureCPU(b.brokerPID), b.res.took)
		if b.res.machine.noisy() {
			b.progress("WARNING: other processes kept %.2f cores busy during the run: the figures are low and noisy", b.res.machine.otherCores)
		}
	} else {
		b.res.machine.otherCores = -1
	}
	return nil
}

// producers runs each producer b.reps times, in turns, and returns the first
// topic our producer filled (or the -topic given) and whether there is one.
func (b *bench) producers(ctx context.Context) (string, bool) {
	if b.topic != "" {
		ok := b.step("record size of -topic "+b.topic, func() error {
			var err error
			b.res.keySize, b.res.valueSize, err = b.recordSize(ctx, b.topic, 20_000)
			return err
		})
		return b.topic, ok
	}
	topic, ok := "", false
	// passes are one run of each producer, labelled label, a sync before
	// each.
	passes := func(label string) []func() {
		return []func(){
			func() {
				t := fmt.Sprintf("bench-reports-%d-%s", time.Now().Unix(), strings.ReplaceAll(label, "/", "-"))
				syscall.Sync()
				if b.step("producer at full speed ("+label+")", func() error { return b.producerFullSpeed(ctx, t) }) && !ok {
					topic, ok = t, true
				}
			},
			func() {
				if b.want("raw-producer") && len(b.res.producers) > 0 { // it takes our record size
					syscall.Sync()
					b.step("raw franz-go produce ("+label+")", func() error { return b.rawProducer(ctx) })
				}
			},
			func() {
				if b.want("perf-producer") && len(b.res.producers) > 0 {
					syscall.Sync()
					b.step("Kafka ProducerPerformance ("+label+")", func() error { return b.perfProducers(ctx) })
				}
			},
		}
	}
	if b.reps > 0 && b.want("producer") {
		// A run of each first, not counted: on a broker just started the
		// first passes run at half the speed of the later ones (its JIT,
		// its page cache), whichever producer goes first.
		for _, pass := range passes("warm-up") {
			pass()
		}
		b.res.producers, b.res.rawProducers, b.res.perfProducers, b.res.perfProducersTxn = nil, nil, nil, nil
	}
	for rep := 1; rep <= b.reps && b.want("producer"); rep++ {
		// As for the consumers: the order reversed every other run.
		ps := passes(fmt.Sprintf("%d/%d", rep, b.reps))
		if rep%2 == 0 {
			slices.Reverse(ps)
		}
		for _, pass := range ps {
			pass()
		}
	}
	return topic, ok
}

// consumers reads topic from offset 0 to the end with each consumer, b.reps
// times each, in turns, so that a slow minute of the machine hits all alike.
// The stats consumer and the raw consume swap places every run (ABBA), so
// that a trend over the run (the broker's JIT warming up) favours neither;
// before each pass the dirty pages of the passes before are written out
// (sync), so that no pass pays for another's writeback with its fsyncs.
func (b *bench) consumers(ctx context.Context, topic string) {
	for rep := 1; rep <= b.reps; rep++ {
		n := fmt.Sprintf(" (%d/%d)", rep, b.reps)
		ours := func() {
			if b.want("consumer") {
				syscall.Sync()
				b.step("stats consumer, offset 0 to the end"+n, func() error { return b.statsConsumer(ctx, topic) })
			}
		}
		raw := func() {
			if b.want("raw") {
				syscall.Sync()
				b.step("raw franz-go consume"+n, func() error { return b.rawConsume(ctx, topic) })
			}
		}
		if rep%2 == 1 {
			ours()
			raw()
		} else {
			raw()
			ours()
		}
		if b.want("perf-consumer") {
			syscall.Sync()
			b.step("Kafka ConsumerPerformance"+n, func() error { return b.perfConsumer(ctx, topic) })
		}
		if b.want("streams") && rep <= streamsReps {
			syscall.Sync()
			b.step("Kafka Streams, the same job"+n, func() error { return b.streams(ctx, topic) })
		}
	}
}

// step runs one measurement and records a failure.
func (b *bench) step(name string, fn func() error) bool {
	b.progress("== %s", name)
	t := time.Now()
	err := fn()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		b.res.failures = append(b.res.failures, fmt.Sprintf("%s: %v", name, err))
		b.progress("%s FAILED: %v", name, err)
		return false
	}
	b.progress("   %s done in %s", name, time.Since(t).Round(100*time.Millisecond))
	return true
}

// progress prints a line to stderr, stamped with the time since the start.
func (b *bench) progress(format string, args ...any) {
	d := time.Since(b.start).Round(time.Second)
	fmt.Fprintf(os.Stderr, "[%2d:%02d] %s\n", int(d.Minutes()), int(d.Seconds())%60, fmt.Sprintf(format, args...))
}

func (b *bench) nextLog() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs++
	return b.logs
}

func (b *bench) track(c *child) {
	b.mu.Lock()
	b.children[c] = true
	b.mu.Unlock()
}

func (b *bench) untrack(c *child) {
	b.mu.Lock()
	delete(b.children, c)
	b.mu.Unlock()
}

// killAll kills the children still running (an interrupted run).
func (b *bench) killAll() {
	b.mu.Lock()
	cs := make([]*child, 0, len(b.children))
	for c := range b.children {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	for _, c := range cs {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// env is the environment of a service process.
func (b *bench) env(kv ...string) []string {
	return append([]string{"KAFKA_BROKERS=" + b.brokers, "KAFKA_CONNECT_TIMEOUT=30s", "LOG_FORMAT=text"}, kv...)
}

// producerEnvs is the environment of a producer: env plus -producer-env.
func (b *bench) producerEnvs(kv ...string) []string {
	return append(b.env(kv...), b.producer.extra...)
}

// consumerEnvs is the environment of a stats consumer: env plus -consumer-env.
func (b *bench) consumerEnvs(kv ...string) []string {
	return append(b.env(kv...), b.consumer.extra...)
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

func fmtCount(n int64) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(n)/1e6), ".00") + "M"
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
