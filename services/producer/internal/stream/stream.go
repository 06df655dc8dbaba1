// Package stream is the producer's loop: it walks the generator's stream from
// a starting index and writes each report, keyed by station, in transactions
// of whole days.
package stream

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/generator"
)

// Config is the shape of the stream.
type Config struct {
	Seed        uint64
	Stations    int           // reports per day; 0: the original's ten
	Count       int64         // stop after the report at index Count-1; 0: never
	Interval    time.Duration // between reports; 0: as fast as possible
	TxnRecords  int           // commit once a transaction holds this many reports…
	TxnInterval time.Duration // …or is this old, at the next whole day
	// Headers mark every record as the stream's (streamid); shared.
	Headers []kgo.RecordHeader
}

// Guard is told where each record landed and checks, before each commit,
// that nobody else wrote among them (see package guard).
type Guard interface {
	Written(partition int32, offset int64)
	Check(ctx context.Context) error
	Committed()
}

// Metrics are the producer's Prometheus metrics.
type Metrics struct {
	records       prometheus.Counter
	transactions  prometheus.Counter
	next          prometheus.Gauge
	lastCommitted prometheus.Gauge
	lastCommitAt  prometheus.Gauge
	commitSeconds prometheus.Histogram
	done          prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_producer_records_total", Help: "Reports committed to the topic by this process.",
		}),
		transactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_producer_transactions_total", Help: "Transactions committed by this process.",
		}),
		next: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_producer_next_index", Help: "Stream index of the next report to commit.",
		}),
		lastCommitted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_producer_last_committed_index", Help: "Stream index of the last report committed to the topic (-1: none).",
		}),
		lastCommitAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_producer_last_commit_timestamp_seconds", Help: "Unix time of the last transaction this process committed (0: none yet).",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weather_producer_transaction_commit_seconds", Help: "Time to commit a transaction: flush its records, check them, end it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms to 8 s
		}),
		done: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_producer_done", Help: "1 once the topic holds the stream up to COUNT: the producer commits no more.",
		}),
	}
	m.lastCommitted.Set(-1)
	reg.MustRegister(m.records, m.transactions, m.next, m.lastCommitted, m.lastCommitAt, m.commitSeconds, m.done)
	return m
}

// StopGrace is how long the last commit may take once ctx is done (SIGTERM):
// well inside Kubernetes' default 30 s between SIGTERM and SIGKILL.
const StopGrace = 10 * time.Second

// Run produces from index next until cfg.Count or until ctx is done. The
// client must be transactional with a default produce topic. On return every
// report before the returned index is committed, and none after it.
func Run(ctx context.Context, log *slog.Logger, client *kgo.Client, cfg Config, next int64, guard Guard, m *Metrics) (int64, error) {
	gen, err := generator.NewStations(cfg.Seed, cmp.Or(cfg.Stations, int(generator.NumStations)))
	if err != nil {
		return next, err
	}
	var (
		mu      sync.Mutex
		failure error
		onDone  = func(rec *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failure = cmp.Or(failure, err) // the first
				mu.Unlock()
				return
			}
			guard.Written(rec.Partition, rec.Offset)
		}
		txnFirst = next // first index of the open transaction
		txnStart time.Time
		inTxn    bool
	)
	// Pacing by schedule: report k of this run is due at start + k*Interval,
	// and each wake-up produces every report that is due. (One report per
	// tick of a time.Ticker caps the pace near 1000/s: a ticker fires at most
	// about once per millisecond and drops the ticks it cannot deliver.)
	var (
		tick  <-chan time.Time
		start = time.Now()
		sent  int64
	)
	if cfg.Interval > 0 {
		t := time.NewTicker(max(cfg.Interval, time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	// A whole day takes this long at the pace: a transaction ends at the end
	// of a day if waiting for the next one would make it older than
	// TxnInterval.
	day := time.Duration(gen.Stations()) * cfg.Interval
	// The records, made ahead on a goroutine of their own; it stops when Run
	// returns.
	genCtx, stopGen := context.WithCancel(context.Background())
	defer stopGen()
	records := ahead(genCtx, gen, cfg.Headers, next, cfg.Count)
	var (
		cur batch // the records being produced, cur.recs[pos] the next
		pos int
	)
	m.next.Set(float64(next))
	m.lastCommitted.Set(float64(next - 1)) // the topic holds the stream up to here

	// commit ends the open transaction. A SIGTERM (ctx done) still commits
	// what was produced, but for StopGrace at most: with the broker gone a
	// commit would wait its whole minute, and a stop must not.
	grace, cancelGrace := context.WithCancel(context.Background())
	defer cancelGrace()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(StopGrace, cancelGrace) })
	defer stopGrace()
	commit := func() error {
		if !inTxn {
			return nil
		}
		inTxn = false
		end, cancel := context.WithTimeout(grace, time.Minute)
		defer cancel()
		began := time.Now()
		flushErr := client.Flush(end)
		mu.Lock()
		err := cmp.Or(failure, flushErr)
		mu.Unlock()
		if err == nil {
			err = guard.Check(end)
		}
		if err != nil {
			if abortErr := client.EndTransaction(end, kgo.TryAbort); abortErr != nil {
				log.Error("abort transaction", "err", abortErr)
			}
			return fmt.Errorf("produce reports %d to %d (transaction aborted): %w", txnFirst, next-1, err)
		}
		if err := client.EndTransaction(end, kgo.TryCommit); err != nil {
			return fmt.Errorf("commit reports %d to %d: %w", txnFirst, next-1, err)
		}
		guard.Committed()
		now := time.Now()
		m.commitSeconds.Observe(now.Sub(began).Seconds())
		m.records.Add(float64(next - txnFirst))
		m.transactions.Inc()
		m.next.Set(float64(next))
		m.lastCommitted.Set(float64(next - 1))
		m.lastCommitAt.Set(float64(now.UnixNano()) / 1e9)
		log.Debug("committed", "from", txnFirst, "to", next-1)
		return nil
	}

	// failed is a failed commit's error, unless the producer is stopping:
	// then what is not committed is not in the topic, the next start resumes
	// after the last report that is, nothing is lost, and the stop is clean.
	failed := func(err error) error {
		if ctx.Err() == nil {
			return err
		}
		log.Warn("stopped before the open transaction was committed: its reports are not in the topic; the next start resumes after the last committed one",
			"not_committed", fmt.Sprintf("%d-%d", txnFirst, next-1), "err", err)
		return ctx.Err()
	}
	for cfg.Count == 0 || next < cfg.Count {
		if ctx.Err() != nil {
			break
		}
		if tick != nil && sent > int64(time.Since(start)/cfg.Interval) {
			select {
			case <-ctx.Done():
			case <-tick:
			}
			continue
		}
		if !inTxn {
			if err := client.BeginTransaction(); err != nil {
				return txnFirst, err
			}
			inTxn, txnFirst, txnStart = true, next, time.Now()
		}
		if pos == len(cur.recs) {
			b, ok := <-records
			if !ok { // it ends at cfg.Count only
				return txnFirst, fmt.Errorf("the generator stopped before report %d", next)
			}
			if b.err != nil {
				return txnFirst, b.err
			}
			cur, pos = b, 0
		}
		client.Produce(context.Background(), &cur.recs[pos], onDone)
		pos++
		next++
		sent++
		if next%gen.Stations() == 0 &&
			(next-txnFirst >= int64(cfg.TxnRecords) || time.Since(txnStart)+day > cfg.TxnInterval) {
			if err := commit(); err != nil {
				return txnFirst, failed(err)
			}
		}
	}
	if err := commit(); err != nil {
		return txnFirst, failed(err)
	}
	if cfg.Count > 0 && next >= cfg.Count {
		m.done.Set(1)
	}
	return next, nil
}
