// Command producer writes the stream of daily station reports to the topic:
// key = station id, value = a protobuf Report, acks from all in-sync
// replicas, idempotent, in transactions. A restart continues the stream where
// the committed data ends, so the topic never has a gap or a duplicate.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/weatherstream/weather/services/common/envconfig"

	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/producer/internal/resume"
	"github.com/weatherstream/weather/services/producer/internal/stream"
	"github.com/weatherstream/weather/services/producer/internal/topic"
)

type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	Seed              uint64        `env:"SEED" envDefault:"1"`
	Count             int64         `env:"COUNT" envDefault:"0"`
	Interval          time.Duration `env:"INTERVAL" envDefault:"100ms"`
	TopicPartitions   int32         `env:"TOPIC_PARTITIONS" envDefault:"4"`
	ReplicationFactor int16         `env:"TOPIC_REPLICATION_FACTOR" envDefault:"1"`
	RecreateTopic     bool          `env:"RECREATE_TOPIC" envDefault:"false"`
	TransactionalID   string        `env:"TRANSACTIONAL_ID" envDefault:"weather-producer"`
	TxnRecords        int           `env:"TXN_MAX_RECORDS" envDefault:"10000"`
	TxnInterval       time.Duration `env:"TXN_MAX_INTERVAL" envDefault:"1s"`
	Retries           int           `env:"PRODUCE_RETRIES" envDefault:"10"`
}

func main() {
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "producer: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "producer: %v\n", err)
		os.Exit(1)
	}
}

func loadConfig(args []string) (config, error) {
	cfg, err := envconfig.Parse[config]()
	if err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	fs.Int64Var(&cfg.Count, "count", cfg.Count, "stop after this many reports in the topic; 0: never (COUNT)")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time between reports; 0: as fast as possible (INTERVAL)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the temperatures (SEED)")
	fs.BoolVar(&cfg.RecreateTopic, "recreate-topic", cfg.RecreateTopic, "delete and recreate the topic first; voids every checkpoint (RECREATE_TOPIC)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.Count < 0 || cfg.Interval < 0 || cfg.TxnRecords < 1 || cfg.TopicPartitions < 1 || cfg.ReplicationFactor < 1:
		return cfg, fmt.Errorf("COUNT, INTERVAL must be >= 0 and TXN_MAX_RECORDS, TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR >= 1")
	case cfg.TransactionalID == "":
		return cfg, fmt.Errorf("TRANSACTIONAL_ID is empty")
	}
	return cfg, nil
}

func run(cfg config) error {
	log, err := observe.NewLogger(cfg.Observe, "producer")
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
	conn, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	const txnTimeout = time.Minute
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka,
		kgo.DefaultProduceTopic(cfg.Kafka.Topic),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(txnTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(cfg.Retries),
		kgo.WithHooks(kprom.NewMetrics("weather_producer_kafka", kprom.Registerer(reg))),
	)
	if err != nil {
		return err
	}
	defer client.Close()
	adm := kadm.NewClient(client)

	if err := topic.Ensure(ctx, log, adm, cfg.Kafka.Topic, cfg.TopicPartitions, cfg.ReplicationFactor, cfg.RecreateTopic); err != nil {
		return err
	}
	if err := resume.Fence(ctx, client, cfg.TransactionalID, txnTimeout); err != nil {
		return err
	}
	next, err := resume.Next(ctx, log, adm, conn, cfg.Kafka.Topic, cfg.Seed)
	if err != nil {
		return err
	}
	log.Info("producing", "topic", cfg.Kafka.Topic, "from_index", next, "count", cfg.Count, "interval", cfg.Interval, "seed", cfg.Seed)
	health.Ready(true)
	start := time.Now()
	end, err := stream.Run(ctx, log, client, stream.Config{
		Seed: cfg.Seed, Count: cfg.Count, Interval: cfg.Interval,
		TxnRecords: cfg.TxnRecords, TxnInterval: cfg.TxnInterval,
	}, next, stream.NewMetrics(reg))
	log.Info("stopped", "committed", end-next, "next_index", end, "took", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}
