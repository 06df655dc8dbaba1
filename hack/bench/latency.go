package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// latencyRun is the end-to-end latency of one pace: from the moment the
// producer hands a report to its Kafka client (the record's timestamp) to
// the moment a checkpoint file holding it is seen.
type latencyRun struct {
	source        string
	rate          float64 // reports/s achieved
	n             int     // reports measured (after the warm-up)
	txnReports    float64 // reports per transaction, as the producer counts them (0: unknown)
	p50, p99, max time.Duration
}

// warmup is left out of the latency: connection set-up, the first fetch.
const warmup = 2 * time.Second

func (b *bench) latencyDefault(ctx context.Context) error {
	r, err := b.latencyRun(ctx, "default", b.latency, func(topic, addr string) (*child, error) {
		return b.spawn("producer-default-pace", b.producerEnvs("TOPIC="+topic, "SEED=1", "HTTP_ADDR="+addr,
			"TRANSACTIONAL_ID=bench-"+topic), nil, b.bin("producer"))
	})
	r.source = "our producer, INTERVAL=100ms (default)"
	b.res.latDefault = &r
	return err
}

// latencyFastPace runs our producer at INTERVAL = 1s/fastRate and reports
// the rate it really reached beside the latency.
func (b *bench) latencyFastPace(ctx context.Context) error {
	interval := time.Second / time.Duration(b.fastRate)
	r, err := b.latencyRun(ctx, "fast", b.latencyFast, func(topic, addr string) (*child, error) {
		return b.spawn("producer-fast-pace", b.producerEnvs("TOPIC="+topic, "SEED=1", "HTTP_ADDR="+addr,
			"INTERVAL="+interval.String(), "TRANSACTIONAL_ID=bench-"+topic), nil, b.bin("producer"))
	})
	r.source = "our producer, INTERVAL=" + interval.String()
	b.res.latFast = &r
	return err
}

// trec is a record as the tracker saw it.
type trec struct {
	p   int32
	off int64
	ts  time.Time
}

// latencyRun measures one pace: a stats consumer on a new topic, then the
// producer that start starts, for d (or until it exits by itself); then
// the producer is stopped with SIGTERM, and the consumer, once caught up.
func (b *bench) latencyRun(ctx context.Context, name string, d time.Duration, start func(topic, httpAddr string) (*child, error)) (latencyRun, error) {
	var r latencyRun
	topic := fmt.Sprintf("bench-latency-%s-%d", name, time.Now().UnixNano())
	if err := b.createTopic(ctx, topic); err != nil {
		return r, err
	}
	dir := filepath.Join(b.runDir, "latency-"+name)
	addr := freeAddr()
	consumer, err := b.spawn("latency-consumer-"+name, b.consumerEnvs("TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+addr), nil,
		b.bin("consumer"), "0", "1", "2", "3")
	if err != nil {
		return r, err
	}
	defer func() { _ = consumer.stop(30 * time.Second) }()
	if err := waitReady(ctx, consumer, "http://"+addr+"/readyz"); err != nil {
		return r, err
	}

	bg, stopBg := context.WithCancel(ctx)
	defer stopBg()
	w, err := newWatch(dir, allParts)
	if err != nil {
		return r, err
	}
	defer w.close()
	tr, err := b.newTracker(bg, topic)
	if err != nil {
		return r, err
	}

	producerAddr := freeAddr()
	producer, err := start(topic, producerAddr)
	if err != nil {
		return r, err
	}
	defer func() { _ = producer.stop(30 * time.Second) }()
	t0 := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for running := true; running && time.Since(t0) < d; {
		select {
		case <-producer.done:
			running = false
		case <-tick.C:
			n, rate := tr.stats()
			_, sum := w.offsets()
			b.progress("latency %s: %s/%s, %s reports committed (%.0f/s), %s offsets in the checkpoints",
				name, time.Since(t0).Round(time.Second), d, fmtCount(int64(n)), rate, fmtCount(sum))
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
	// The producer's own count of its transactions, if it has metrics.
	if txns, err := scrapeValue("http://"+producerAddr+"/metrics", "weather_producer_transactions_total"); err == nil && txns > 0 {
		if recs, err := scrapeValue("http://"+producerAddr+"/metrics", "weather_producer_records_total"); err == nil {
			r.txnReports = recs / txns
		}
	}
	if err := producer.stop(60 * time.Second); err != nil {
		return r, err
	}
	if err := producer.exitErr(); err != nil {
		return r, err
	}
	ends, _, err := b.settledEnds(ctx, topic)
	if err != nil {
		return r, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for w.poll(); !w.caughtUp(ends) || !tr.reached(ends); w.poll() {
		if time.Now().After(deadline) {
			return r, fmt.Errorf("consumer or tracker not at the end 60 s after the producer stopped")
		}
		if !consumer.running() {
			return r, consumer.exitErr()
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopBg()
	recs := tr.records()
	if len(recs) == 0 {
		return r, fmt.Errorf("no records")
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
		if t, ok := w.at(rec.p, rec.off); ok {
			lat = append(lat, t.Sub(rec.ts))
		}
	}
	if len(lat) == 0 {
		return r, fmt.Errorf("no record after the warm-up")
	}
	slices.Sort(lat)
	r.n = len(lat)
	r.rate = float64(len(recs)) / last.Sub(first).Seconds()
	r.p50, r.p99, r.max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	b.progress("latency %s: %.0f reports/s; produce → checkpoint p50 %s, p99 %s, max %s over %d reports",
		name, r.rate, r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.max.Round(100*time.Microsecond), r.n)
	return r, nil
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

func waitReady(ctx context.Context, c *child, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !c.running() {
			return c.exitErr()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready after 60 s (log: %s)", c.name, c.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tracker reads the topic's committed records for their offsets and
// timestamps (the producer's create time: when it called Produce).
type tracker struct {
	mu    sync.Mutex
	recs  []trec
	next  map[int32]int64
	start time.Time
}

func (b *bench) newTracker(ctx context.Context, topic string) (*tracker, error) {
	offsets := map[int32]kgo.Offset{}
	for _, p := range allParts {
		offsets[p] = kgo.NewOffset().At(0)
	}
	c, err := b.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	t := &tracker{next: map[int32]int64{}, start: time.Now()}
	go func() {
		defer c.Close()
		for ctx.Err() == nil {
			fetches := c.PollFetches(ctx)
			t.mu.Lock()
			fetches.EachRecord(func(rec *kgo.Record) {
				t.next[rec.Partition] = rec.Offset + 1
				if !rec.Attrs.IsControl() {
					t.recs = append(t.recs, trec{rec.Partition, rec.Offset, rec.Timestamp})
				}
			})
			t.mu.Unlock()
		}
	}()
	return t, nil
}

func (t *tracker) stats() (n int, rate float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.recs) < 2 {
		return len(t.recs), 0
	}
	return len(t.recs), float64(len(t.recs)) / time.Since(t.recs[0].ts).Seconds()
}

func (t *tracker) reached(ends map[int32]int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, e := range ends {
		if t.next[p] < e {
			return false
		}
	}
	return true
}

func (t *tracker) records() []trec {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.recs)
}
