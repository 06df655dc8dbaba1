package observe

import (
	"context"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// NewMetrics makes what a service's /metrics serves: the process's and the
// build's (NewRegistry), the service's own (made by own on the registry), and
// its Kafka client's — kprom's weather_<service>_kafka_…, fed by the hooks of
// the option it returns, which the service gives its client.
func NewMetrics[M any](service string, own func(prometheus.Registerer) M) (*prometheus.Registry, M, kgo.Opt) {
	reg := NewRegistry(service)
	return reg, own(reg), kgo.WithHooks(kprom.NewMetrics("weather_"+service+"_kafka", kprom.Registerer(reg)))
}

// Observed is a running service as it is watched: what its main gives its
// clients and its loop.
type Observed[M any] struct {
	Log *slog.Logger
	// Metrics are the service's own; /metrics serves them with the rest of
	// NewMetrics'.
	Metrics M
	// KafkaHooks feeds the Kafka client's metrics to /metrics: an option for
	// the service's client.
	KafkaHooks kgo.Opt
	// Health is what /readyz says: not ready until Health.Ready(true).
	Health Health
	// Addr is where /healthz, /readyz and /metrics are served.
	Addr net.Addr
}

// Start is how every service that serves only the common endpoints begins:
// its logger (NewLogger), its metrics (NewMetrics, its own made by own), and
// /healthz, /readyz and /metrics served on c.HTTPAddr until ctx is done. It
// returns once listening, so a port in use is an error at start.
func Start[M any](ctx context.Context, c Config, service string, own func(prometheus.Registerer) M) (*Observed[M], error) {
	o := &Observed[M]{Log: NewLogger(c.LogConfig, service)}
	var reg *prometheus.Registry
	reg, o.Metrics, o.KafkaHooks = NewMetrics(service, own)
	addr, err := ListenAndServe(ctx, c, NewMux(reg, &o.Health), o.Log)
	if err != nil {
		return nil, err
	}
	o.Addr = addr
	return o, nil
}
