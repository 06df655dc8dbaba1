// Command consumer is the stats consumer: it reads the partitions it is given
// (not a consumer group), keeps per-station stats per partition, and after
// every batch checkpoints each partition's stats together with its next
// offset to DATA_DIR/partition-N.json (its log beside it, partition-N.log);
// it publishes them to the snapshot topic and the offsets to the monitoring
// group, and restores from the newest of its file and its snapshot.
//
//	consumer 0 2          # partitions 0 and 2
//	PARTITIONS=0,2 consumer
//	PARTITIONS_BY_ORDINAL="0,2;1,3" POD_INDEX=1 consumer   # a StatefulSet pod: 1 and 3
//	consumer print [DIR]  # show DIR's (default DATA_DIR) partition files
//	consumer defaults     # every setting's default, KEY=VALUE (for tools: make bench)
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/consumer/internal/consume"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "print" {
		// The images have no shell or cat: `kubectl exec … -- /consumer print`.
		dir := cmp.Or(append(os.Args[2:], os.Getenv("DATA_DIR"), ".")...)
		if err := checkpoint.Print(os.Stdout, dir); err != nil {
			fmt.Fprintf(os.Stderr, "consumer print: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "defaults" {
		_ = envconfig.PrintDefaults[config](os.Stdout)
		return
	}
	cfg, parts, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "consumer: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg, parts); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "consumer: %v\n", cfg.Kafka.Explain(err))
		os.Exit(1)
	}
}

// newMetrics makes what /metrics serves: the process's and the build's
// (observe), the loop's, and the Kafka client's (kprom, fed by its hooks).
func newMetrics() (*prometheus.Registry, *consume.Metrics, kgo.Opt) {
	reg := observe.NewRegistry("consumer")
	return reg, consume.NewMetrics(reg), kgo.WithHooks(kprom.NewMetrics("weather_consumer_kafka", kprom.Registerer(reg)))
}

func run(cfg config, parts partitions) error {
	log := observe.NewLogger(cfg.Observe.LogConfig, "consumer")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	reg, metrics, kafkaHooks := newMetrics()
	var health observe.Health
	if err := observe.Serve(ctx, cfg.Observe, reg, &health, log); err != nil {
		return err
	}
	if len(parts.mine) == 0 {
		// A spare pod of a StatefulSet with more replicas than partitions.
		log.Info("no partitions assigned to this pod: idling as a spare", "partitions_by_ordinal", cfg.PartitionsByOrdinal)
		health.Ready(true)
		<-ctx.Done()
		return nil
	}
	store, err := checkpoint.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	// Fresh metadata while waiting for the producer to create the topic;
	// the same client publishes the snapshots.
	admClient, err := kafkaconfig.Connect(ctx, cfg.Kafka, append(snapshot.ClientOpts(), kgo.MetadataMinAge(250*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer admClient.Close()
	consumer, err := consume.Start(ctx, log, admClient, store, consume.Config{
		Topic: cfg.Kafka.Topic, Partitions: parts.mine, Assigned: parts.assigned, OnOutOfRange: cfg.OnOffsetOutOfRange,
		StartAtLogStart: cfg.StartAtLogStart, LockWait: cfg.LockWait, SaveRetries: cfg.CheckpointRetries, SaveBackoff: cfg.CheckpointRetryBackoff,
		CheckpointInterval: cfg.CheckpointInterval, TopicCheckInterval: cfg.TopicCheckInterval,
		SnapshotInterval: cfg.SnapshotInterval, MonitoringGroup: cfg.MonitoringGroup,
	}, metrics)
	if err != nil {
		return err
	}
	defer consumer.Close()

	opts := append(consumer.ClientOpts(cfg.Kafka.Topic),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		kafkaHooks)
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka, opts...)
	if err != nil {
		return err
	}
	defer client.Close()

	log.Info("consuming", "topic", cfg.Kafka.Topic, "partitions", parts.mine, "dir", cfg.DataDir)
	health.Ready(true)
	err = consumer.Run(ctx, client)
	log.Info("stopped", "err", err)
	return err
}
