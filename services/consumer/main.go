// Command consumer is the stats consumer: it reads the partitions it is given
// (not a consumer group), keeps per-station stats per partition, and after
// every batch checkpoints each partition's stats together with its next
// offset to DATA_DIR/partition-N.json.
//
//	consumer 0 2          # partitions 0 and 2
//	PARTITIONS=0,2 consumer
//	PARTITIONS_BY_ORDINAL="0,2;1,3" POD_INDEX=1 consumer   # a StatefulSet pod: 1 and 3
//	consumer print [DIR]  # show DIR's (default DATA_DIR) partition files
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/weatherstream/weather/services/common/envconfig"

	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/consumer/internal/assignment"
	"github.com/weatherstream/weather/services/consumer/internal/checkpoint"
	"github.com/weatherstream/weather/services/consumer/internal/consume"
	"github.com/weatherstream/weather/services/consumer/internal/stats"
)

type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	Partitions   string        `env:"PARTITIONS"`            // "0,2"; arguments win
	ByOrdinal    string        `env:"PARTITIONS_BY_ORDINAL"` // "0,2;1,3": the entry of this pod's ordinal
	PodIndex     int           `env:"POD_INDEX" envDefault:"-1"`
	DataDir      string        `env:"DATA_DIR" envDefault:"."`
	OnOutOfRange string        `env:"ON_OFFSET_OUT_OF_RANGE" envDefault:"fail"`
	LockWait     time.Duration `env:"LOCK_WAIT" envDefault:"30s"`
	SaveRetries  int           `env:"CHECKPOINT_RETRIES" envDefault:"5"`
	SaveBackoff  time.Duration `env:"CHECKPOINT_RETRY_BACKOFF" envDefault:"1s"`
	SaveInterval time.Duration `env:"CHECKPOINT_INTERVAL" envDefault:"100ms"`
	FetchBytes   int32         `env:"FETCH_MAX_PARTITION_BYTES" envDefault:"1048576"`
	// A fetch's records live in memory until the batch is checkpointed,
	// 160 B of kgo.Record each on top of their ~40 B: 256 KiB of these small
	// records is ~13k of them, and keeps the process under 40 MiB.
	FetchMaxBytes int32 `env:"FETCH_MAX_BYTES" envDefault:"262144"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "print" {
		// The images have no shell or cat: `kubectl exec … -- /consumer print`.
		if err := printFiles(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "consumer print: %v\n", err)
			os.Exit(1)
		}
		return
	}
	cfg, parts, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "consumer: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg, parts); err != nil {
		fmt.Fprintf(os.Stderr, "consumer: %v\n", err)
		os.Exit(1)
	}
}

func loadConfig(args []string) (config, []int32, error) {
	cfg, err := envconfig.Parse[config]()
	if err != nil {
		return cfg, nil, err
	}
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: consumer [-dir DIR] PARTITION... (or PARTITIONS=0,2)")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.DataDir, "dir", cfg.DataDir, "directory of partition-N.json (DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	if fs.NArg() == 0 && cfg.Partitions == "" && cfg.ByOrdinal != "" {
		ordinal, err := podOrdinal(cfg.PodIndex)
		if err != nil {
			return cfg, nil, err
		}
		parts, err := assignment.ForOrdinal(cfg.ByOrdinal, ordinal)
		return cfg, parts, err
	}
	parts, err := assignment.Parse(fs.Args(), cfg.Partitions)
	return cfg, parts, err
}

// podOrdinal is POD_INDEX, or else the number a StatefulSet puts at the end
// of its pods' host names (weather-consumer-2).
func podOrdinal(podIndex int) (int, error) {
	if podIndex >= 0 {
		return podIndex, nil
	}
	host, _ := os.Hostname()
	if i := strings.LastIndexByte(host, '-'); i >= 0 {
		if n, err := strconv.Atoi(host[i+1:]); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("PARTITIONS_BY_ORDINAL needs POD_INDEX or a StatefulSet host name ending in -N, not %q", host)
}

func run(cfg config, parts []int32) error {
	log, err := observe.NewLogger(cfg.Observe, "consumer")
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
	if len(parts) == 0 {
		// A spare pod of a StatefulSet with more replicas than partitions.
		log.Info("no partitions assigned to this pod: idling as a spare", "partitions_by_ordinal", cfg.ByOrdinal)
		health.Ready(true)
		<-ctx.Done()
		return nil
	}
	store, err := checkpoint.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	// Fresh metadata while waiting for the producer to create the topic.
	admClient, err := kafkaconfig.Connect(ctx, cfg.Kafka, kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return err
	}
	defer admClient.Close()
	consumer, err := consume.Start(ctx, log, kadm.NewClient(admClient), store, consume.Config{
		Topic: cfg.Kafka.Topic, Partitions: parts, OnOutOfRange: cfg.OnOutOfRange,
		LockWait: cfg.LockWait, SaveRetries: cfg.SaveRetries, SaveBackoff: cfg.SaveBackoff,
		CheckpointInterval: cfg.SaveInterval,
	}, consume.NewMetrics(reg))
	if err != nil {
		return err
	}
	defer consumer.Close()

	opts := append(consumer.ClientOpts(cfg.Kafka.Topic),
		kgo.FetchMaxPartitionBytes(cfg.FetchBytes),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kgo.WithHooks(kprom.NewMetrics("weather_consumer_kafka", kprom.Registerer(reg))))
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka, opts...)
	if err != nil {
		return err
	}
	defer client.Close()

	log.Info("consuming", "topic", cfg.Kafka.Topic, "partitions", parts, "dir", cfg.DataDir)
	health.Ready(true)
	err = consumer.Run(ctx, client)
	log.Info("stopped", "err", err)
	return err
}

// printFiles shows every partition file of a directory (default DATA_DIR),
// each checked as the consumer would load it.
func printFiles(args []string) error {
	dir := os.Getenv("DATA_DIR")
	if len(args) > 0 {
		dir = args[0]
	}
	if dir == "" {
		dir = "."
	}
	names, err := filepath.Glob(filepath.Join(dir, "partition-*.json"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintf(os.Stderr, "no partition-N.json in %s yet\n", dir)
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := stats.Parse(data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("==> %s <==\n%s", name, data)
	}
	return nil
}
