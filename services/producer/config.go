package main

import (
	"cmp"
	"flag"
	"fmt"
	"time"

	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
)

// config is the producer's configuration: environment first, then flags.
type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	Seed                   uint64        `env:"SEED" envDefault:"1"`
	Stations               int           `env:"STATIONS" envDefault:"10"`
	Count                  int64         `env:"COUNT" envDefault:"0"`
	IdleAfterCount         bool          `env:"IDLE_AFTER_COUNT" envDefault:"false"`
	Interval               time.Duration `env:"INTERVAL" envDefault:"100ms"`
	TopicPartitions        int32         `env:"TOPIC_PARTITIONS" envDefault:"4"`
	TopicReplicationFactor int16         `env:"TOPIC_REPLICATION_FACTOR" envDefault:"1"`
	TopicRetentionMs       int64         `env:"TOPIC_RETENTION_MS" envDefault:"-1"` // -1: keep every report, the stats' record
	RecreateTopic          bool          `env:"RECREATE_TOPIC" envDefault:"false"`
	StreamTakeover         bool          `env:"STREAM_TAKEOVER" envDefault:"false"`
	TransactionalID        string        `env:"TRANSACTIONAL_ID" envDefault:"weather-producer"`
	TxnMaxRecords          int           `env:"TXN_MAX_RECORDS" envDefault:"10000"`
	TxnMaxInterval         time.Duration `env:"TXN_MAX_INTERVAL" envDefault:"1s"`
	ProduceRetries         int           `env:"PRODUCE_RETRIES" envDefault:"10"`
	ProduceLinger          time.Duration `env:"PRODUCE_LINGER" envDefault:"1ms"`
	ProduceCompression     string        `env:"PRODUCE_COMPRESSION" envDefault:"snappy"`
}

// loadConfig reads the environment and the command line, and validates both.
func loadConfig(args []string) (config, error) {
	cfg, rest, err := envconfig.Load("producer", args, func(fs *flag.FlagSet, c *config) {
		fs.Int64Var(&c.Count, "count", c.Count, "stop once the topic holds this many reports; 0: never (COUNT)")
		fs.DurationVar(&c.Interval, "interval", c.Interval, "time between reports; 0: as fast as possible (INTERVAL)")
		fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the temperatures (SEED)")
		fs.BoolVar(&c.RecreateTopic, "recreate-topic", c.RecreateTopic, "delete and recreate the topic first; voids every checkpoint (RECREATE_TOPIC)")
		fs.BoolVar(&c.StreamTakeover, "takeover", c.StreamTakeover, "continue a stream this producer does not own (STREAM_TAKEOVER)")
	}, config.validate)
	return cfg, cmp.Or(err, envconfig.NoArgs(rest))
}

// validate returns the first setting that cannot work, naming its variable
// and what it allows.
func (c config) validate() error {
	return cmp.Or(
		c.Kafka.Validate(),
		c.Observe.Validate(),
		envconfig.AtLeast("COUNT", c.Count, 0),
		envconfig.AtLeast("STATIONS", c.Stations, 1),
		envconfig.AtMost("STATIONS", c.Stations, generator.MaxStations),
		envconfig.AtLeast("INTERVAL", c.Interval, 0),
		envconfig.AtLeast("TOPIC_PARTITIONS", c.TopicPartitions, 1),
		envconfig.AtLeast("TOPIC_REPLICATION_FACTOR", c.TopicReplicationFactor, 1),
		retention("TOPIC_RETENTION_MS", c.TopicRetentionMs),
		envconfig.NotEmpty("TRANSACTIONAL_ID", c.TransactionalID),
		envconfig.AtLeast("TXN_MAX_RECORDS", c.TxnMaxRecords, 1),
		envconfig.AtLeast("TXN_MAX_INTERVAL", c.TxnMaxInterval, 0),
		envconfig.AtLeast("PRODUCE_RETRIES", c.ProduceRetries, 0),
		envconfig.AtLeast("PRODUCE_LINGER", c.ProduceLinger, 0),
		envconfig.OneOf("PRODUCE_COMPRESSION", c.ProduceCompression, kafkaconfig.CompressionNames()...),
	)
}

// retention is an error naming the variable key unless ms is Kafka's "keep
// for ever" (-1) or a time (> 0): 0 would delete records as soon as their
// segment rolls, and Kafka takes no other negative value.
func retention(key string, ms int64) error {
	if ms != -1 && ms <= 0 {
		return fmt.Errorf("%s is %d: want -1 (keep every record) or a time in milliseconds, at least 1", key, ms)
	}
	return nil
}
