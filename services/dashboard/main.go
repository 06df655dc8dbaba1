// Command dashboard serves the stats as a live web page and a JSON API: it
// reads the consumers' partition files (read-only) and asks Kafka how far
// each partition's log goes, every REFRESH_INTERVAL.
//
//	dashboard -dir data -addr 127.0.0.1:8085   # then open http://127.0.0.1:8085/
//	curl http://127.0.0.1:8085/api/v1/stations
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/dashboard/internal/kafkalog"
	"github.com/weatherstream/weather/services/dashboard/internal/live"
	"github.com/weatherstream/weather/services/dashboard/internal/web"
)

func main() {
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	log := observe.NewLogger(cfg.Observe.LogConfig, "dashboard")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return fmt.Errorf("DATA_DIR: %w", err) // read-only: it is the consumers' to make
	}
	store, err := checkpoint.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	reg := observe.NewRegistry()
	// No wait for Kafka at start: the page shows the files, and why Kafka
	// does not answer, while it is away.
	opts, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	// Fresh metadata: the topic appears (the producer creates it) or is
	// recreated while the dashboard runs.
	client, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(250*time.Millisecond), kgo.WithHooks(kprom.NewMetrics("weather_dashboard_kafka", kprom.Registerer(reg))))...)
	if err != nil {
		return err
	}
	defer client.Close()

	loop := live.New(live.Config{Topic: cfg.Kafka.Topic, Interval: cfg.RefreshInterval, History: cfg.History},
		store, kafkalog.New(client, cfg.Kafka.Topic, cfg.TailRecords, cfg.LatestPerStation), log, live.NewMetrics(reg))
	var health observe.Health
	mux := observe.NewMux(reg, &health)
	web.Register(mux, loop, ctx.Done())
	addr, err := observe.ListenAndServe(ctx, cfg.Observe, mux, log)
	if err != nil {
		return err
	}
	log.Info("dashboard", "url", pageURL(addr), "dir", cfg.DataDir, "topic", cfg.Kafka.Topic)
	err = loop.Run(ctx, func() { health.Ready(true) })
	log.Info("stopped", "err", err)
	return err
}

// pageURL is where a person on this machine opens the page.
func pageURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
