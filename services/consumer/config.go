package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/weatherstream/weather/services/common/assignment"
	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/consumer/internal/consume"
)

// config is the stats consumer's configuration: environment first, then the
// command line.
type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	Partitions             string        `env:"PARTITIONS"`            // "0,2"; arguments win
	PartitionsByOrdinal    string        `env:"PARTITIONS_BY_ORDINAL"` // "0,2;1,3": the entry of this pod's ordinal
	PodIndex               int           `env:"POD_INDEX" envDefault:"-1"`
	DataDir                string        `env:"DATA_DIR" envDefault:"."`
	OnOffsetOutOfRange     string        `env:"ON_OFFSET_OUT_OF_RANGE" envDefault:"fail"`
	StartAtLogStart        bool          `env:"START_AT_LOG_START" envDefault:"false"` // no checkpoint, a log start above 0: count from there
	LockWait               time.Duration `env:"LOCK_WAIT" envDefault:"30s"`
	CheckpointRetries      int           `env:"CHECKPOINT_RETRIES" envDefault:"5"`
	CheckpointRetryBackoff time.Duration `env:"CHECKPOINT_RETRY_BACKOFF" envDefault:"1s"`
	CheckpointInterval     time.Duration `env:"CHECKPOINT_INTERVAL" envDefault:"100ms"`
	TopicCheckInterval     time.Duration `env:"TOPIC_CHECK_INTERVAL" envDefault:"10s"`
	// A partition's state goes to the snapshot topic at most this often
	// (and at every stop): the dashboard's freshness, the traffic's bound.
	SnapshotInterval time.Duration `env:"SNAPSHOT_INTERVAL" envDefault:"1s"`
	// The consumer group the checkpointed offsets are committed to, for
	// monitoring only (kafka-consumer-groups.sh, KEDA): never read back.
	MonitoringGroup        string `env:"MONITORING_GROUP" envDefault:"weather-stats"`
	FetchMaxPartitionBytes int32  `env:"FETCH_MAX_PARTITION_BYTES" envDefault:"1048576"`
	// A fetch's records live in memory until the batch is checkpointed,
	// 160 B of kgo.Record each on top of their ~40 B: 256 KiB of these small
	// records is ~13k of them, and keeps the process under 40 MiB.
	FetchMaxBytes int32 `env:"FETCH_MAX_BYTES" envDefault:"262144"`

	// parts are what the arguments, PARTITIONS or PARTITIONS_BY_ORDINAL
	// say, as loadConfig finds them.
	parts partitions
}

// partitions are the ones this consumer reads, and the ones its StatefulSet
// gives to any of its pods (nil unless PARTITIONS_BY_ORDINAL says).
type partitions struct{ mine, assigned []int32 }

// loadConfig reads the environment and the command line, validates both,
// and finds the partitions.
func loadConfig(args []string) (config, error) {
	cfg, rest, err := envconfig.Load("consumer", args, func(fs *flag.FlagSet, c *config) {
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "usage: consumer [-dir DIR] PARTITION... (or PARTITIONS=0,2), consumer print [DIR], consumer defaults")
			fs.PrintDefaults()
		}
		fs.StringVar(&c.DataDir, "dir", c.DataDir, "directory of partition-N.json (DATA_DIR)")
	}, config.validate)
	if err != nil {
		return cfg, err
	}
	if len(rest) > 0 || cfg.Partitions != "" || cfg.PartitionsByOrdinal == "" {
		cfg.parts.mine, err = assignment.ParseList(rest, cfg.Partitions)
		return cfg, err
	}
	byOrdinal, err := assignment.ParseByOrdinal(cfg.PartitionsByOrdinal)
	if err != nil {
		return cfg, err
	}
	host, _ := os.Hostname()
	ordinal, err := assignment.Ordinal(cfg.PodIndex, host)
	cfg.parts = partitions{mine: byOrdinal.Of(ordinal), assigned: byOrdinal.Partitions()}
	return cfg, err
}

// validate returns the first setting that cannot work, naming its variable
// and what it allows.
func (c config) validate() error {
	return cmp.Or(
		c.Kafka.Validate(),
		c.Observe.Validate(),
		envconfig.AtLeast("POD_INDEX", c.PodIndex, -1),
		envconfig.NotEmpty("DATA_DIR", c.DataDir),
		envconfig.OneOf("ON_OFFSET_OUT_OF_RANGE", c.OnOffsetOutOfRange, consume.OutOfRangeFail, consume.OutOfRangeRestart),
		envconfig.AtLeast("LOCK_WAIT", c.LockWait, 0),
		envconfig.AtLeast("CHECKPOINT_RETRIES", c.CheckpointRetries, 0),
		envconfig.AtLeast("CHECKPOINT_RETRY_BACKOFF", c.CheckpointRetryBackoff, 0),
		envconfig.AtLeast("CHECKPOINT_INTERVAL", c.CheckpointInterval, 0),
		envconfig.AtLeast("TOPIC_CHECK_INTERVAL", c.TopicCheckInterval, 100*time.Millisecond),
		envconfig.AtLeast("SNAPSHOT_INTERVAL", c.SnapshotInterval, 100*time.Millisecond),
		envconfig.AtLeast("FETCH_MAX_PARTITION_BYTES", c.FetchMaxPartitionBytes, 1),
		envconfig.AtLeast("FETCH_MAX_BYTES", c.FetchMaxBytes, 1),
	)
}
