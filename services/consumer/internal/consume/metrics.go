package consume

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/stats"
)

// Metrics are the stats consumer's Prometheus metrics.
type Metrics struct {
	records       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	offset        *prometheus.GaugeVec
	writeSeconds  prometheus.Histogram
	writeFailures prometheus.Counter
	unread        prometheus.Gauge
	snapshots     *prometheus.CounterVec
	lag           *lagCollector
}

// partitionLabel is the label of every per-partition metric.
const partitionLabel = "partition"

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weather_consumer_records_total", Help: "Reports folded into the stats.",
		}, []string{partitionLabel}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weather_consumer_records_skipped_total", Help: "Records that were not valid reports, stepped over.",
		}, []string{partitionLabel, "reason"}),
		offset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weather_consumer_offset", Help: "Next offset to read, per partition (in memory; the file follows after each batch).",
		}, []string{partitionLabel}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weather_consumer_checkpoint_write_seconds", Help: "Time to write and fsync one checkpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_consumer_checkpoint_write_failures_total", Help: "Checkpoint writes that failed (full or read-only disk).",
		}),
		unread: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_consumer_unread_partitions", Help: "Partitions of the topic that no consumer reads, as this consumer sees it.",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weather_consumer_snapshots_total", Help: "Partition states sent to the snapshot topic: published, or failed.",
		}, []string{"result"}),
		lag: newLagCollector(time.Now),
	}
	for _, result := range []string{"published", "failed"} {
		m.snapshots.WithLabelValues(result) // both at 0 from the start
	}
	reg.MustRegister(m.records, m.skipped, m.offset, m.writeSeconds, m.writeFailures, m.unread, m.snapshots, m.lag)
	return m
}

// reasons label the ways a record can be bad, for the skipped-records metric.
var reasons = append(codec.Reasons(), "reserved_station", "not_finite")

// reason labels a bad record's error.
func reason(err error) string {
	switch {
	case errors.Is(err, stats.ErrReservedStation):
		return "reserved_station"
	case errors.Is(err, stats.ErrNotFinite):
		return "not_finite"
	}
	return codec.Reason(err)
}

type partitionMetrics struct {
	records prometheus.Counter
	offset  prometheus.Gauge
	skipped map[string]prometheus.Counter // by reason, each made (at 0) up front
	lag     *partitionLag
}

func (m *Metrics) partition(p int32) partitionMetrics {
	label := strconv.Itoa(int(p))
	pm := partitionMetrics{m.records.WithLabelValues(label), m.offset.WithLabelValues(label), map[string]prometheus.Counter{}, m.lag.partition(p)}
	for _, r := range reasons {
		pm.skipped[r] = m.skipped.WithLabelValues(label, r)
	}
	return pm
}

// lagCollector serves how far each partition's file is behind its log,
// computed at each scrape from what the loop last recorded (per fetch and
// per checkpoint, never per record): lag_seconds keeps growing while the
// consumer is stuck.
type lagCollector struct {
	logEnd, lagRecords, lagSeconds, checkpointTime *prometheus.Desc
	now                                            func() time.Time

	mu    sync.Mutex
	parts map[int32]*partitionLag
}

func newLagCollector(now func() time.Time) *lagCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{partitionLabel}, nil)
	}
	return &lagCollector{
		logEnd: desc("weather_consumer_log_end_offset",
			"Where the partition's log ends for a read committed consumer (its last stable offset), as last fetched."),
		lagRecords: desc("weather_consumer_lag_records",
			"Offsets in the partition's log that are not in its file yet: log_end_offset minus the file's offset."),
		lagSeconds: desc("weather_consumer_lag_seconds",
			"Age of the oldest committed report not in the partition's file yet: now minus its Kafka timestamp "+
				"(until it is fetched, since the log end was seen past the file: a lower bound); 0 when the file is at the log end."),
		checkpointTime: desc("weather_consumer_last_checkpoint_timestamp_seconds",
			"Unix time of the last checkpoint written for the partition (at start: the file's modification time; 0 without a file)."),
		now:   now,
		parts: map[int32]*partitionLag{},
	}
}

// partition returns p's lag state, made once.
func (c *lagCollector) partition(p int32) *partitionLag {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts[p] == nil {
		c.parts[p] = &partitionLag{now: c.now}
	}
	return c.parts[p]
}

// Describe sends the four descriptions.
func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.logEnd
	ch <- c.lagRecords
	ch <- c.lagSeconds
	ch <- c.checkpointTime
}

// Collect sends each partition's four values as of now.
func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for p, l := range c.parts {
		label := strconv.Itoa(int(p))
		v := l.values(now)
		ch <- prometheus.MustNewConstMetric(c.logEnd, prometheus.GaugeValue, float64(v.logEnd), label)
		ch <- prometheus.MustNewConstMetric(c.lagRecords, prometheus.GaugeValue, float64(v.records), label)
		ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, v.seconds, label)
		ch <- prometheus.MustNewConstMetric(c.checkpointTime, prometheus.GaugeValue, v.checkpoint, label)
	}
}

// partitionLag is one partition's lag bookkeeping. The loop's goroutine
// calls its methods; a scrape reads only the atomics, which the loop stores
// oldest first, so a scrape between two stores is at worst one fetch late.
type partitionLag struct {
	now func() time.Time

	// Published for the scrape.
	logEnd    atomic.Int64 // last stable offset, as last seen
	file      atomic.Int64 // the file's offset: its last checkpoint
	writtenAt atomic.Int64 // Unix nanoseconds of that checkpoint; 0: none
	// oldest is the Kafka timestamp (Unix nanoseconds) of the first record
	// at or after the file's offset that the consumer has fetched; until it
	// has fetched one, when it first saw the log end past the file (the lag
	// is at least that old); 0 when the file is at the log end.
	oldest atomic.Int64

	// The loop's own. Records between the file's offset and the in-flight
	// checkpoint's are the file's to wait for; those after the in-flight
	// checkpoint's offset wait for the next one.
	fileFirst   int64 // timestamp of the first record fetched at or after the file's offset; 0: none yet
	inFlight    bool  // a checkpoint of this partition is being written
	flightAt    int64 // its offset
	flightFirst int64 // timestamp of the first record fetched at or after it; 0: none yet
	behindSince int64 // when the log end was first seen past the file, no record after it fetched yet
}

// lagValues are a partition's metrics at one moment.
type lagValues struct {
	logEnd, records     int64
	seconds, checkpoint float64
}

func (l *partitionLag) values(now time.Time) lagValues {
	oldest, file, end, at := l.oldest.Load(), l.file.Load(), l.logEnd.Load(), l.writtenAt.Load()
	v := lagValues{logEnd: end, records: max(0, end-file)}
	if end > file && oldest > 0 {
		v.seconds = max(0, float64(now.UnixNano()-oldest)/1e9) // a broker's clock ahead of ours is no lag
	}
	if at > 0 {
		v.checkpoint = float64(at) / 1e9
	}
	return v
}

// start is where the partition starts: its file's offset (or the log start
// without a file) and the time the file was written (zero: none), and the
// log's end.
func (l *partitionLag) start(file, logEnd int64, writtenAt time.Time) {
	l.file.Store(file)
	if !writtenAt.IsZero() {
		l.writtenAt.Store(writtenAt.UnixNano())
	}
	l.end(logEnd)
}

// end records the log end a fetch reported.
func (l *partitionLag) end(logEnd int64) {
	l.publish(l.file.Load(), logEnd)
}

// fetched records the Kafka timestamp of the first new record of a fetch.
func (l *partitionLag) fetched(first time.Time) {
	ts := first.UnixNano()
	if first.IsZero() || ts <= 0 {
		return // no timestamp: the lag stays at what is known
	}
	switch {
	case l.inFlight && l.flightFirst == 0:
		l.flightFirst = ts
	case !l.inFlight && l.fileFirst == 0:
		l.fileFirst = ts
	}
	l.publish(l.file.Load(), l.logEnd.Load())
}

// checkpointing records that a checkpoint of the partition at offset is
// being written.
func (l *partitionLag) checkpointing(offset int64) {
	l.inFlight, l.flightAt, l.flightFirst = true, offset, 0
}

// written records that the checkpoint in flight is in the file.
func (l *partitionLag) written(at time.Time) {
	if !l.inFlight {
		return
	}
	l.fileFirst, l.inFlight, l.flightFirst = l.flightFirst, false, 0
	l.writtenAt.Store(at.UnixNano())
	l.publish(l.flightAt, l.logEnd.Load())
}

// writtenAll records that the file holds everything fetched: offset is the
// partition's offset in memory (a write in the foreground, a retry).
func (l *partitionLag) writtenAll(offset int64, at time.Time) {
	l.fileFirst, l.inFlight, l.flightFirst = 0, false, 0
	l.writtenAt.Store(at.UnixNano())
	l.publish(offset, l.logEnd.Load())
}

// publish stores the file's offset and the log end, and the oldest
// timestamp they make.
func (l *partitionLag) publish(file, logEnd int64) {
	var oldest int64
	switch {
	case logEnd <= file:
		l.behindSince = 0
	case l.fileFirst != 0:
		oldest = l.fileFirst
	default:
		if l.behindSince == 0 {
			l.behindSince = l.now().UnixNano()
		}
		oldest = l.behindSince
	}
	l.oldest.Store(oldest)
	l.file.Store(file)
	l.logEnd.Store(logEnd)
}
