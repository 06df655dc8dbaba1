// Command producer writes the stream of daily station reports to the topic:
// key = station id, value = a protobuf Report, marked as the stream's, acks
// from all in-sync replicas, idempotent, in transactions. A restart continues
// the stream where the committed data ends, so the topic never has a gap or a
// duplicate; it refuses to continue a stream that is not its own.
package main

import (
	"context"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/service"
	"github.com/weatherstream/weather/services/common/streamid"
	"github.com/weatherstream/weather/services/producer/internal/guard"
	"github.com/weatherstream/weather/services/producer/internal/resume"
	"github.com/weatherstream/weather/services/producer/internal/stream"
	"github.com/weatherstream/weather/services/producer/internal/topic"
)

// txnTimeout is how long the broker keeps a transaction of a dead producer
// open before it aborts it.
const txnTimeout = time.Minute

func main() {
	if len(os.Args) == 2 && os.Args[1] == "defaults" { // KEY=value lines, for tools (make bench)
		_ = envconfig.PrintDefaults[config](os.Stdout)
		return
	}
	service.Main("producer", loadConfig, run, func(c config, err error) error { return c.Kafka.Explain(err) })
}

func run(ctx context.Context, cfg config) error {
	obs, err := observe.Start(ctx, cfg.Observe, "producer", stream.NewMetrics)
	if err != nil {
		return err
	}
	log := obs.Log
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka,
		kgo.DefaultProduceTopic(cfg.Kafka.Topic),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(txnTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(cfg.ProduceRetries),
		kgo.ProducerLinger(cfg.ProduceLinger),
		compression(cfg.ProduceCompression),
		kgo.MetadataMinAge(time.Second), // a topic just created is seen soon
		obs.KafkaHooks,
	)
	if err != nil {
		return err
	}
	defer client.Close()
	adm := kadm.NewClient(client)

	spec := topic.Spec{Name: cfg.Kafka.Topic, Partitions: cfg.TopicPartitions, ReplicationFactor: cfg.TopicReplicationFactor, RetentionMs: cfg.TopicRetentionMs}
	if err := topic.Ensure(ctx, log, adm, spec, cfg.RecreateTopic); err != nil {
		return err
	}
	if err := resume.Fence(ctx, client, cfg.TransactionalID, txnTimeout); err != nil {
		return err
	}
	reader, err := logread.New(ctx, client, cfg.Kafka.Topic)
	if err != nil {
		return err
	}
	self := streamid.ID{Producer: cfg.TransactionalID, Seed: cfg.Seed, Stations: cfg.Stations}
	pos, err := resume.Find(ctx, log, client, adm, reader, cfg.Kafka.Topic, resume.Options{
		Self: self, Takeover: cfg.StreamTakeover, SettleWait: 2 * txnTimeout, TxnTimeout: txnTimeout,
	})
	if err != nil {
		return err
	}
	log.Info("producing", "topic", cfg.Kafka.Topic, "from_index", pos.Next, "count", cfg.Count, "interval", cfg.Interval, "stream", self.String())
	obs.Health.Ready(true)
	start := time.Now()
	end, err := stream.Run(ctx, log, client, stream.Config{
		Seed: cfg.Seed, Stations: cfg.Stations, Count: cfg.Count, Interval: cfg.Interval,
		TxnRecords: cfg.TxnMaxRecords, TxnInterval: cfg.TxnMaxInterval, Headers: self.Headers(),
	}, pos.Next, guard.New(log, reader, pos.Ends), obs.Metrics)
	took := time.Since(start).Round(time.Millisecond)
	if err == nil && cfg.Count > 0 && end >= cfg.Count && cfg.IdleAfterCount {
		// A Deployment's pod that exits is restarted, again and again:
		// this one stays, its /metrics saying it is done.
		log.Info("reached COUNT: idling until stopped (IDLE_AFTER_COUNT)", "committed", end-pos.Next, "next_index", end, "took", took)
		<-ctx.Done()
	}
	log.Info("stopped", "committed", end-pos.Next, "next_index", end, "took", took, "err", err)
	return err
}

// compression is the option of PRODUCE_COMPRESSION, validated before.
func compression(name string) kgo.Opt {
	opt, _ := kafkaconfig.Compression(name)
	return opt
}
