// Command debug prints every report it reads, one line each, for a person
// watching `kubectl logs`. It is a member of consumer group "debug": the
// broker assigns its partitions, a first run starts at the end of the topic
// and later runs resume from the group's committed offsets.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/debug/internal/printer"
	"github.com/weatherstream/weather/services/debug/internal/tail"
)

func main() {
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "debug: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "debug: %v\n", cfg.Kafka.Explain(err))
		os.Exit(1)
	}
}

func run(cfg config) error {
	log := observe.NewLogger(cfg.Observe.LogConfig, "debug")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg, metrics, kafkaHooks := newMetrics()
	var health observe.Health
	if err := observe.Serve(ctx, cfg.Observe, reg, &health, log); err != nil {
		return err
	}
	opts := append(tail.ClientOpts(log, cfg.Group, cfg.Kafka.Topic, func() { health.Ready(true) }),
		kafkaHooks)
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	format := printer.Python
	if cfg.Output == "json" {
		format = printer.JSON
	}
	err = tail.Run(ctx, log, client, os.Stdout, format, metrics)
	log.Info("stopped", "err", err)
	return err
}

// newMetrics makes what /metrics serves: the process's and the build's
// (observe), the loop's, and the Kafka client's (kprom, fed by its hooks).
func newMetrics() (*prometheus.Registry, *tail.Metrics, kgo.Opt) {
	reg := observe.NewRegistry("debug")
	return reg, tail.NewMetrics(reg), kgo.WithHooks(kprom.NewMetrics("weather_debug_kafka", kprom.Registerer(reg)))
}
