package consume

import (
	"errors"
	"strconv"

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
	}
	reg.MustRegister(m.records, m.skipped, m.offset, m.writeSeconds, m.writeFailures, m.unread)
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
}

func (m *Metrics) partition(p int32) partitionMetrics {
	label := strconv.Itoa(int(p))
	pm := partitionMetrics{m.records.WithLabelValues(label), m.offset.WithLabelValues(label), map[string]prometheus.Counter{}}
	for _, r := range reasons {
		pm.skipped[r] = m.skipped.WithLabelValues(label, r)
	}
	return pm
}
