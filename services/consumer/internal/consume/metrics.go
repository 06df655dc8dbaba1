package consume

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the stats consumer's Prometheus metrics.
type Metrics struct {
	records       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	offset        *prometheus.GaugeVec
	writeSeconds  prometheus.Histogram
	writeFailures prometheus.Counter
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weather_consumer_records_total", Help: "Reports folded into the stats.",
		}, []string{"partition"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weather_consumer_records_skipped_total", Help: "Records that were not valid reports, stepped over.",
		}, []string{"partition", "reason"}),
		offset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weather_consumer_offset", Help: "Next offset to read, per partition (in memory; the file follows after each batch).",
		}, []string{"partition"}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weather_consumer_checkpoint_write_seconds", Help: "Time to write and fsync one checkpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_consumer_checkpoint_write_failures_total", Help: "Checkpoint writes that failed (full or read-only disk).",
		}),
	}
	reg.MustRegister(m.records, m.skipped, m.offset, m.writeSeconds, m.writeFailures)
	return m
}

type partitionMetrics struct {
	label   string
	records prometheus.Counter
	offset  prometheus.Gauge
}

func (m *Metrics) partition(p int32) partitionMetrics {
	label := strconv.Itoa(int(p))
	return partitionMetrics{label, m.records.WithLabelValues(label), m.offset.WithLabelValues(label)}
}
