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
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/service"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/consumer/internal/consume"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "print" {
		// The images have no shell or cat: `kubectl exec … -- /consumer print`.
		dir := cmp.Or(append(os.Args[2:], os.Getenv("DATA_DIR"), ".")...)
		if err := checkpoint.Print(os.Stdout, dir); err != nil {
			service.Exit("consumer print", service.ExitFailed, err)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "defaults" {
		_ = envconfig.PrintDefaults[config](os.Stdout)
		return
	}
	service.Main("consumer", loadConfig, run, func(c config, err error) error { return c.Kafka.Explain(err) })
}

func run(ctx context.Context, cfg config) error {
	obs, err := observe.Start(ctx, cfg.Observe, "consumer", consume.NewMetrics)
	if err != nil {
		return err
	}
	log := obs.Log
	if len(cfg.parts.mine) == 0 {
		// A spare pod of a StatefulSet with more replicas than partitions.
		log.Info("no partitions assigned to this pod: idling as a spare", "partitions_by_ordinal", cfg.PartitionsByOrdinal)
		obs.Health.Ready(true)
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
		Topic: cfg.Kafka.Topic, Partitions: cfg.parts.mine, Assigned: cfg.parts.assigned, OnOutOfRange: cfg.OnOffsetOutOfRange,
		StartAtLogStart: cfg.StartAtLogStart, LockWait: cfg.LockWait, SaveRetries: cfg.CheckpointRetries, SaveBackoff: cfg.CheckpointRetryBackoff,
		CheckpointInterval: cfg.CheckpointInterval, TopicCheckInterval: cfg.TopicCheckInterval,
		SnapshotInterval: cfg.SnapshotInterval, MonitoringGroup: cfg.MonitoringGroup,
	}, obs.Metrics)
	if err != nil {
		return err
	}
	defer consumer.Close()

	opts := append(consumer.ClientOpts(cfg.Kafka.Topic),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		obs.KafkaHooks)
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka, opts...)
	if err != nil {
		return err
	}
	defer client.Close()

	log.Info("consuming", "topic", cfg.Kafka.Topic, "partitions", cfg.parts.mine, "dir", cfg.DataDir)
	obs.Health.Ready(true)
	err = consumer.Run(ctx, client)
	log.Info("stopped", "err", err)
	return err
}
