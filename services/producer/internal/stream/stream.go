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
	l := newLoop(ctx, log, client, cfg, gen, next, guard, m)
	defer l.close()
	for l.more(ctx) {
		if l.pace.wait(ctx) {
			continue
		}
		if err := l.begin(); err != nil {
			return l.committed, err
		}
		if err := l.produce(); err != nil {
			return l.committed, err
		}
		if l.dayEndsTransaction() {
			if err := l.commit(ctx); err != nil {
				return l.committed, err
			}
		}
	}
	if err := l.commit(ctx); err != nil {
		return l.committed, err
	}
	if l.reachedCount() {
		m.done.Set(1)
	}
	return l.committed, nil
}

// loop is Run's state: where the stream is, and its open transaction.
type loop struct {
	log    *slog.Logger
	client *kgo.Client
	cfg    Config
	guard  Guard
	m      *Metrics

	stations  int64         // reports a day
	day       time.Duration // a day's reports take at the pace
	next      int64         // index of the next report
	committed int64         // every report before it is committed
	records   queue         // made ahead
	stopGen   context.CancelFunc
	pace      pacer

	// grace bounds a commit once Run's ctx is done (see StopGrace).
	grace       context.Context
	cancelGrace context.CancelFunc
	stopGrace   func() bool

	inTxn    bool
	txnFirst int64 // first index of the open transaction (the last one's, between two)
	txnStart time.Time
	// promise is told each record's fate; it keeps the first failure.
	promise func(*kgo.Record, error)
	mu      sync.Mutex
	failure error
}

func newLoop(ctx context.Context, log *slog.Logger, client *kgo.Client, cfg Config, gen *generator.Generator, next int64, guard Guard, m *Metrics) *loop {
	l := &loop{log: log, client: client, cfg: cfg, guard: guard, m: m,
		stations: gen.Stations(), day: time.Duration(gen.Stations()) * cfg.Interval,
		next: next, committed: next, txnFirst: next, pace: newPacer(cfg.Interval)}
	l.promise = l.landed // one func value for every record
	// The records, made ahead on a goroutine of their own; it stops when Run
	// returns.
	genCtx, stopGen := context.WithCancel(context.Background())
	l.records, l.stopGen = queue{batches: ahead(genCtx, gen, cfg.Headers, next, cfg.Count)}, stopGen
	// A SIGTERM (ctx done) still commits what was produced, but for StopGrace
	// at most: with the broker gone a commit would wait its whole minute,
	// and a stop must not.
	l.grace, l.cancelGrace = context.WithCancel(context.Background())
	l.stopGrace = context.AfterFunc(ctx, func() { time.AfterFunc(StopGrace, l.cancelGrace) })
	m.next.Set(float64(next))
	m.lastCommitted.Set(float64(next - 1)) // the topic holds the stream up to here
	return l
}

// close stops what newLoop started.
func (l *loop) close() {
	l.stopGrace()
	l.cancelGrace()
	l.stopGen()
	l.pace.stop()
}

// more reports whether there are reports left to produce, and time to.
func (l *loop) more(ctx context.Context) bool {
	return (l.cfg.Count == 0 || l.next < l.cfg.Count) && ctx.Err() == nil
}

// reachedCount reports whether the stream is produced up to cfg.Count.
func (l *loop) reachedCount() bool {
	return l.cfg.Count > 0 && l.next >= l.cfg.Count
}

// begin opens a transaction, unless one is open.
func (l *loop) begin() error {
	if l.inTxn {
		return nil
	}
	if err := l.client.BeginTransaction(); err != nil {
		return err
	}
	l.inTxn, l.txnFirst, l.txnStart = true, l.next, time.Now()
	return nil
}

// produce hands the next report to the client.
func (l *loop) produce() error {
	rec, err := l.records.take(l.next)
	if err != nil {
		return err
	}
	l.client.Produce(context.Background(), rec, l.promise)
	l.next++
	l.pace.sent++
	return nil
}

// landed is told where a record landed, or why it did not.
func (l *loop) landed(rec *kgo.Record, err error) {
	if err != nil {
		l.mu.Lock()
		l.failure = cmp.Or(l.failure, err) // the first
		l.mu.Unlock()
		return
	}
	l.guard.Written(rec.Partition, rec.Offset)
}

// dayEndsTransaction reports whether the report just produced ends a day
// that ends the transaction: it holds cfg.TxnRecords, or waiting for the
// next day would make it older than cfg.TxnInterval.
func (l *loop) dayEndsTransaction() bool {
	return l.next%l.stations == 0 &&
		(l.next-l.txnFirst >= int64(l.cfg.TxnRecords) || time.Since(l.txnStart)+l.day > l.cfg.TxnInterval)
}

// commit ends the open transaction, if there is one. Should that fail while
// the producer is stopping (ctx done), what is not committed is not in the
// topic, the next start resumes after the last report that is, nothing is
// lost, and the stop is clean: it says so and returns ctx's error.
func (l *loop) commit(ctx context.Context) error {
	err := l.end()
	if err == nil || ctx.Err() == nil {
		return err
	}
	l.log.Warn("stopped before the open transaction was committed: its reports are not in the topic; the next start resumes after the last committed one",
		"not_committed", fmt.Sprintf("%d-%d", l.txnFirst, l.next-1), "err", err)
	return ctx.Err()
}

// end commits the open transaction once its records have all landed and
// nobody else wrote among them (the guard), and aborts it otherwise.
func (l *loop) end() error {
	if !l.inTxn {
		return nil
	}
	l.inTxn = false
	end, cancel := context.WithTimeout(l.grace, time.Minute)
	defer cancel()
	began := time.Now()
	if err := l.settle(end); err != nil {
		if abortErr := l.client.EndTransaction(end, kgo.TryAbort); abortErr != nil {
			l.log.Error("abort transaction", "err", abortErr)
		}
		return fmt.Errorf("produce reports %d to %d (transaction aborted): %w", l.txnFirst, l.next-1, err)
	}
	if err := l.client.EndTransaction(end, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit reports %d to %d: %w", l.txnFirst, l.next-1, err)
	}
	l.guard.Committed()
	l.committed = l.next
	l.account(began)
	return nil
}

// settle waits for the transaction's records to land and has the guard
// check that nobody else wrote among them.
func (l *loop) settle(ctx context.Context) error {
	flushErr := l.client.Flush(ctx)
	l.mu.Lock()
	err := cmp.Or(l.failure, flushErr)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return l.guard.Check(ctx)
}

// account has the metrics (and the debug log) say that the open
// transaction is committed, its commit begun at began.
func (l *loop) account(began time.Time) {
	now := time.Now()
	l.m.commitSeconds.Observe(now.Sub(began).Seconds())
	l.m.records.Add(float64(l.next - l.txnFirst))
	l.m.transactions.Inc()
	l.m.next.Set(float64(l.next))
	l.m.lastCommitted.Set(float64(l.next - 1))
	l.m.lastCommitAt.Set(float64(now.UnixNano()) / 1e9)
	l.log.Debug("committed", "from", l.txnFirst, "to", l.next-1)
}
