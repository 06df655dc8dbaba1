// Package latency measures the end-to-end latency of the pipeline: from the
// moment the producer hands a report to its Kafka client (the record's
// timestamp) to the moment a checkpoint file holding it is seen, at the
// producer's default pace and at a fast one.
package latency

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/checkpointwatch"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/metrics"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/hack/bench/internal/service"
)

// Config is what a latency measurement needs.
type Config struct {
	Dir      string // the run directory
	Services *service.Binaries
	Kafka    *kafka.Admin
	Log      *progress.Log
}

// Run is the end-to-end latency of one pace.
type Run struct {
	Source        string
	Rate          float64 // reports/s achieved
	N             int     // reports measured (after the warm-up)
	TxnReports    float64 // reports per transaction, as the producer counts them (0: unknown)
	P50, P99, Max time.Duration
}

// warmup is left out of the latency: connection set-up, the first fetch.
const warmup = 2 * time.Second

// Default measures the latency for d at the producer's default pace.
func Default(ctx context.Context, cfg Config, d time.Duration) (Run, error) {
	r, err := measure(ctx, cfg, "default", d, func(topic, addr string) (*process.Child, error) {
		return cfg.Services.StartProducer("producer-default-pace", "TOPIC="+topic, "SEED=1", "HTTP_ADDR="+addr,
			"TRANSACTIONAL_ID=bench-"+topic)
	})
	r.Source = "our producer, INTERVAL=100ms (default)"
	return r, err
}

// Fast measures the latency for d with our producer at INTERVAL =
// 1s/perSec, and reports the rate it really reached beside the latency.
func Fast(ctx context.Context, cfg Config, d time.Duration, perSec int) (Run, error) {
	interval := time.Second / time.Duration(perSec)
	r, err := measure(ctx, cfg, "fast", d, func(topic, addr string) (*process.Child, error) {
		return cfg.Services.StartProducer("producer-fast-pace", "TOPIC="+topic, "SEED=1", "HTTP_ADDR="+addr,
			"INTERVAL="+interval.String(), "TRANSACTIONAL_ID=bench-"+topic)
	})
	r.Source = "our producer, INTERVAL=" + interval.String()
	return r, err
}

// measure measures one pace: a stats consumer on a new topic, then the
// producer that start starts, for d (or until it exits by itself); then
// the producer is stopped with SIGTERM, and the consumer, once caught up.
func measure(ctx context.Context, cfg Config, name string, d time.Duration, start func(topic, httpAddr string) (*process.Child, error)) (Run, error) {
	var r Run
	topic := fmt.Sprintf("bench-latency-%s-%d", name, time.Now().UnixNano())
	if err := cfg.Kafka.CreateTopic(ctx, topic); err != nil {
		return r, err
	}
	dir := filepath.Join(cfg.Dir, "latency-"+name)
	addr := process.FreeAddr()
	consumer, err := cfg.Services.StartConsumer("latency-consumer-"+name, kafka.Partitions, nil, "TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+addr)
	if err != nil {
		return r, err
	}
	defer func() { _ = consumer.Stop(30 * time.Second) }()
	if err := service.WaitReady(ctx, consumer, "http://"+addr+"/readyz"); err != nil {
		return r, err
	}

	bg, stopBg := context.WithCancel(ctx)
	defer stopBg()
	w, err := checkpointwatch.New(dir, kafka.Partitions)
	if err != nil {
		return r, err
	}
	defer w.Close()
	tr, err := newTracker(bg, cfg.Kafka, topic)
	if err != nil {
		return r, err
	}

	producerAddr := process.FreeAddr()
	producer, err := start(topic, producerAddr)
	if err != nil {
		return r, err
	}
	defer func() { _ = producer.Stop(30 * time.Second) }()
	if err := produceFor(ctx, cfg.Log, name, d, producer, tr, w); err != nil {
		return r, err
	}
	// The producer's own count of its transactions, if it has metrics.
	if txns, err := metrics.Value("http://"+producerAddr+"/metrics", "weather_producer_transactions_total"); err == nil && txns > 0 {
		if recs, err := metrics.Value("http://"+producerAddr+"/metrics", "weather_producer_records_total"); err == nil {
			r.TxnReports = recs / txns
		}
	}
	if err := producer.Stop(60 * time.Second); err != nil {
		return r, err
	}
	if err := producer.ExitErr(); err != nil {
		return r, err
	}
	if err := drain(ctx, cfg.Kafka, topic, consumer, tr, w); err != nil {
		return r, err
	}
	stopBg()
	if err := latencies(&r, tr.records(), w); err != nil {
		return r, err
	}
	cfg.Log.Printf("latency %s: %.0f reports/s; produce → checkpoint p50 %s, p99 %s, max %s over %d reports",
		name, r.Rate, r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.Max.Round(100*time.Microsecond), r.N)
	return r, nil
}

// produceFor lets producer run for d, or until it exits by itself, saying
// how far it is every 5 s.
func produceFor(ctx context.Context, log *progress.Log, name string, d time.Duration, producer *process.Child, tr *tracker, w *checkpointwatch.Watch) error {
	t0 := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for running := true; running && time.Since(t0) < d; {
		select {
		case <-producer.Done():
			running = false
		case <-tick.C:
			n, rate := tr.stats()
			_, sum := w.Offsets()
			log.Printf("latency %s: %s/%s, %s reports committed (%.0f/s), %s offsets in the checkpoints",
				name, time.Since(t0).Round(time.Second), d, format.Count(int64(n)), rate, format.Count(sum))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// drain waits, once the producer stopped, for the consumer's files and the
// tracker to reach the end of topic.
func drain(ctx context.Context, adm *kafka.Admin, topic string, consumer *process.Child, tr *tracker, w *checkpointwatch.Watch) error {
	ends, _, err := adm.SettledEnds(ctx, topic)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for w.Poll(); !w.CaughtUp(ends) || !tr.reached(ends); w.Poll() {
		if time.Now().After(deadline) {
			return fmt.Errorf("consumer or tracker not at the end 60 s after the producer stopped")
		}
		if !consumer.Running() {
			return consumer.ExitErr()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// latencies puts into r the rate of recs and the latency of those after
// the warm-up: from each record's timestamp to its first checkpoint in w.
func latencies(r *Run, recs []trec, w *checkpointwatch.Watch) error {
	if len(recs) == 0 {
		return fmt.Errorf("no records")
	}
	first, last := recs[0].ts, recs[0].ts
	for _, rec := range recs {
		first, last = minTime(first, rec.ts), maxTime(last, rec.ts)
	}
	var lat []time.Duration
	for _, rec := range recs {
		if rec.ts.Before(first.Add(warmup)) {
			continue
		}
		if t, ok := w.At(rec.p, rec.off); ok {
			lat = append(lat, t.Sub(rec.ts))
		}
	}
	if len(lat) == 0 {
		return fmt.Errorf("no record after the warm-up")
	}
	slices.Sort(lat)
	r.N = len(lat)
	r.Rate = float64(len(recs)) / last.Sub(first).Seconds()
	r.P50, r.P99, r.Max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
