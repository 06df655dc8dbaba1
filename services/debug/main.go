// Command debug prints every report it reads, one line each, for a person
// watching `kubectl logs`. It is a member of consumer group "debug": the
// broker assigns its partitions, a first run starts at the end of the topic
// and later runs resume from the group's committed offsets.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/weatherstream/weather/services/common/envconfig"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/debug/internal/printer"
)

type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	Group  string `env:"GROUP" envDefault:"debug"`
	Output string `env:"OUTPUT" envDefault:"text"` // text (the original's lines) or json
}

func main() {
	cfg, err := envconfig.Parse[config]()
	if err == nil {
		fs := flag.NewFlagSet("debug", flag.ContinueOnError)
		fs.StringVar(&cfg.Output, "output", cfg.Output, "text or json (OUTPUT)")
		err = fs.Parse(os.Args[1:])
	}
	if err == nil && cfg.Output != "text" && cfg.Output != "json" {
		err = fmt.Errorf("OUTPUT %q: want text or json", cfg.Output)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "debug: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "debug: %v\n", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	log, err := observe.NewLogger(cfg.Observe, "debug")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := observe.NewRegistry()
	var health observe.Health
	if err := observe.Serve(ctx, cfg.Observe, reg, &health, log); err != nil {
		return err
	}
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weather_debug_records_skipped_total", Help: "Records that were not valid reports.",
	}, []string{"reason"})
	printed := prometheus.NewCounter(prometheus.CounterOpts{Name: "weather_debug_records_total", Help: "Reports printed."})
	reg.MustRegister(skipped, printed)

	client, err := kafkaconfig.Connect(ctx, cfg.Kafka,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Kafka.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), // a new group starts at the end, never the beginning
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit only what was printed (marked), every 5 s and on revoke.
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			log.Info("partitions assigned", "group", cfg.Group, "assigned", a)
			health.Ready(true)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, r map[string][]int32) {
			log.Info("partitions revoked", "group", cfg.Group, "revoked", r)
			if err := c.CommitMarkedOffsets(ctx); err != nil {
				log.Error("commit on revoke", "err", err)
			}
		}),
		kgo.WithHooks(kprom.NewMetrics("weather_debug_kafka", kprom.Registerer(reg))),
	)
	if err != nil {
		return err
	}
	format := printer.Python
	if cfg.Output == "json" {
		format = printer.JSON
	}
	out := bufio.NewWriter(os.Stdout)
	var report reportpb.Report
	var line []byte
	for {
		fetches := client.PollFetches(ctx)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			if err := codec.Decode(rec.Key, rec.Value, &report); err != nil {
				log.Error("skipping bad record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				skipped.WithLabelValues(codec.Reason(err)).Inc()
				return
			}
			line = format(line[:0], printer.Line{Report: &report, Partition: rec.Partition, Offset: rec.Offset})
			out.Write(line)
			printed.Inc()
		})
		if err := out.Flush(); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
		// Printed records are done: mark them for the group's commits.
		client.MarkCommitRecords(fetches.Records()...)
	}
	return shutdown(log, client)
}

// shutdown commits what was printed and leaves the group, so the next run
// resumes right after the last printed record.
func shutdown(log *slog.Logger, client *kgo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := client.CommitMarkedOffsets(ctx)
	client.Close()
	log.Info("stopped", "err", err)
	if err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	return nil
}
