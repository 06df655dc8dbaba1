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
// This file only wires: the settings (internal/settings), the measurements
// (one package each under internal/, and the Kafka Streams peer in
// streams/), the report (internal/report).
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
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/consumerpass"
	"github.com/weatherstream/weather/hack/bench/internal/consumers"
	"github.com/weatherstream/weather/hack/bench/internal/dashboardload"
	"github.com/weatherstream/weather/hack/bench/internal/gobench"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/latency"
	"github.com/weatherstream/weather/hack/bench/internal/machine"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/producers"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/hack/bench/internal/report"
	"github.com/weatherstream/weather/hack/bench/internal/restart"
	"github.com/weatherstream/weather/hack/bench/internal/scaling"
	"github.com/weatherstream/weather/hack/bench/internal/service"
	"github.com/weatherstream/weather/hack/bench/internal/settings"
	"github.com/weatherstream/weather/hack/bench/internal/snapshots"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "rawconsume":
			os.Exit(consumers.RawConsumeMain(os.Args[2:]))
		case "rawproduce":
			os.Exit(producers.RawProduceMain(os.Args[2:]))
		}
	}
	os.Exit(benchMain(os.Args[1:]))
}

// run is one run of the bench as main wires it: its settings, and what the
// measurements are given besides (the log, the processes, the services'
// settings). It stays in main: each measurement gets a config of its own.
type run struct {
	settings.Settings
	start                    time.Time
	self                     string // this binary, for its helper modes
	dir                      string // the run directory: logs, checkpoint files
	log                      *progress.Log
	procs                    *process.Runner
	producerEnv, consumerEnv *service.Env
}

func benchMain(args []string) int {
	r := run{start: time.Now()}
	var err error
	if r.Settings, err = settings.Parse(args); err != nil {
		if !errors.Is(err, settings.ErrUsage) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		return 2
	}
	if r.self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	for _, svc := range service.Names {
		if _, err := os.Stat(service.Path(r.BinDir, svc)); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v (build the services into -bin first; make bench does)\n", err)
			return 2
		}
	}
	r.producerEnv, r.consumerEnv = service.NewEnv(r.ProducerEnv), service.NewEnv(r.ConsumerEnv)
	for svc, e := range map[string]*service.Env{"producer": r.producerEnv, "consumer": r.consumerEnv} {
		if err := e.Load(service.Path(r.BinDir, svc)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	r.dir = filepath.Join(r.Repo, ".cache", "bench", "run-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	r.log, r.procs = progress.New(r.start), process.NewRunner(r.dir)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var res report.Results
	broker, err := r.measure(ctx, &res)
	r.procs.KillAll()
	if broker != nil {
		broker.Stop()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n(logs of the run: %s)\n", err, r.dir)
		return 1
	}
	res.Failures = r.log.Failures()
	return r.publish(res)
}

// measure runs every measurement selected, in order, into res. A
// measurement that fails is reported in the table and the others still
// run, unless they depend on it. It returns the broker it started, if it
// did.
func (r run) measure(ctx context.Context, res *report.Results) (*kafka.Broker, error) {
	res.Machine = machine.Describe(ctx, kafka.Version(r.Repo), r.dir)
	cpuStart := machine.MeasureCPU(0)
	r.log.Printf("machine: %s; load average %s", res.Machine.Summary(), res.Machine.LoadStart)
	if res.Machine.Busy() {
		r.log.Printf("WARNING: the load average is above half the CPUs: another job is running, figures will be low and noisy")
	}
	if r.GoBench && r.Want("gobench") {
		r.log.Step("Go benchmarks of the hot functions", func() (err error) {
			res.GoBench, err = gobench.Run(ctx, r.Repo, r.Benchtime, r.dir, r.log)
			return err
		})
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var broker *kafka.Broker
	brokers := r.Brokers
	if brokers == "" {
		var err error
		if broker, err = kafka.Start(ctx, r.Repo, r.procs, r.log); err != nil {
			return nil, err
		}
		brokers = broker.Addr
	} else {
		r.log.Printf("kafka: using the broker at %s", brokers)
	}
	adm, err := kafka.NewAdmin(brokers)
	if err != nil {
		return broker, err
	}
	defer adm.Close()
	r.onBroker(ctx, adm, res)
	if ctx.Err() != nil {
		return broker, ctx.Err()
	}
	res.Machine.LoadEnd = machine.LoadAvg()
	res.Took = time.Since(r.start)
	if broker != nil && broker.PID > 0 {
		res.Machine.OtherCores = machine.Others(cpuStart, machine.MeasureCPU(broker.PID), res.Took)
		if res.Machine.Noisy() {
			r.log.Printf("WARNING: other processes kept %.2f cores busy during the run: the figures are low and noisy", res.Machine.OtherCores)
		}
	} else {
		res.Machine.OtherCores = -1
	}
	return broker, nil
}

// onBroker runs the measurements on the broker adm is a client of.
func (r run) onBroker(ctx context.Context, adm *kafka.Admin, res *report.Results) {
	services := &service.Binaries{Dir: r.BinDir, Brokers: adm.Brokers(), ProducerEnv: r.producerEnv, ConsumerEnv: r.consumerEnv, Processes: r.procs}
	// 1. Producers at full speed; the topic of ours is what the consumers read.
	topic, producerOK := r.Topic, false
	if r.Topic != "" {
		producerOK = r.log.Step("record size of -topic "+r.Topic, func() (err error) {
			res.Producers.KeySize, res.Producers.ValueSize, err = adm.RecordSize(ctx, r.Topic, 20_000)
			return err
		})
	} else if r.Want("producer") {
		topic, producerOK, res.Producers = producers.Measure(ctx, producers.Config{Records: r.Records, Reps: r.Reps,
			Raw: r.Want("raw-producer"), Perf: r.Want("perf-producer"), Self: r.self, Repo: r.Repo,
			Services: services, Kafka: adm, Processes: r.procs, Log: r.log})
	}
	if producerOK {
		// 2. Consumers over all four partitions, from offset 0 to the end.
		res.Consumers = consumers.Measure(ctx, consumers.Config{Records: r.Records, Reps: r.Reps,
			Stats: r.Want("consumer"), Raw: r.Want("raw"), Perf: r.Want("perf-consumer"), Streams: r.Want("streams"),
			Self: r.self, Repo: r.Repo, Dir: r.dir, Services: services, Kafka: adm, Processes: r.procs, Log: r.log}, topic)
		// 3. Restart after SIGKILL, with a backlog to read.
		if r.Want("restart") {
			r.log.Step("restart after SIGKILL", func() (err error) {
				res.Restarts, err = restart.Measure(ctx, restart.Config{Restarts: r.Restarts, Dir: r.dir, Services: services, Kafka: adm, Log: r.log}, topic)
				return err
			})
		}
	}
	passes := consumerpass.Config{Records: r.ScaleRecords, Reps: r.ScaleReps, Dir: r.dir, Services: services, Kafka: adm}
	// 4. How cost grows: partitions, consumer processes, stations.
	if r.Want("scaling") {
		r.log.Step("how cost grows", func() (err error) { res.Scaling, err = scaling.Measure(ctx, passes, r.log); return err })
	}
	// 4b. What the snapshots cost and give.
	if r.Want("snapshots") {
		r.log.Step("snapshots", func() (err error) { res.Snapshots, err = snapshots.Measure(ctx, passes, r.log); return err })
	}
	// 5. End-to-end latency at the default pace and at the fast one.
	lat := latency.Config{Dir: r.dir, Services: services, Kafka: adm, Log: r.log}
	if r.Latency > 0 && r.Want("latency") {
		r.log.Step("end-to-end latency, default pace", func() error {
			l, err := latency.Default(ctx, lat, r.Latency)
			res.LatencyDefault = &l
			return err
		})
	}
	if r.LatencyFast > 0 && r.Want("latency-fast") {
		r.log.Step(fmt.Sprintf("end-to-end latency, %d reports/s", r.FastRate), func() error {
			l, err := latency.Fast(ctx, lat, r.LatencyFast, r.FastRate)
			res.LatencyFast = &l
			return err
		})
	}
	// 6. The dashboard's API under load while the pipeline runs.
	if r.DashboardLoad > 0 && r.Want("dashboard") {
		r.log.Step("the dashboard under load", func() (err error) {
			res.Dashboard, err = dashboardload.Measure(ctx, dashboardload.Config{Clients: r.DashboardClients, Duration: r.DashboardLoad,
				Dir: r.dir, Services: services, Kafka: adm, Log: r.log})
			return err
		})
	}
}

// publish prints the table and writes it to -out, with the plot of the
// scaling series beside it, and returns the exit code: 1 if a measurement
// failed.
func (r run) publish(res report.Results) int {
	table := report.Markdown(res, report.Settings{Records: r.Records, Reps: r.Reps, Benchtime: r.Benchtime,
		ProducerEnv: r.producerEnv, ConsumerEnv: r.consumerEnv})
	fmt.Print(table)
	if !res.Scaling.Empty() {
		png := filepath.Join(filepath.Dir(r.Out), "scaling.png")
		if err := report.PlotScaling(res.Scaling, png); err != nil {
			r.log.Printf("scaling plot: %v", err)
		} else {
			r.log.Printf("scaling plot written to %s", png)
		}
	}
	if err := os.MkdirAll(filepath.Dir(r.Out), 0o755); err == nil {
		if err := os.WriteFile(r.Out, []byte(table), 0o644); err == nil {
			r.log.Printf("table written to %s", r.Out)
		}
	}
	if r.Keep || len(res.Failures) > 0 {
		r.log.Printf("logs and checkpoint files of the run: %s", r.dir)
	} else {
		os.RemoveAll(r.dir)
	}
	if len(res.Failures) > 0 {
		return 1
	}
	return 0
}
