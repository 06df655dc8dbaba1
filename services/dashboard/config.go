package main

import (
	"cmp"
	"flag"
	"time"

	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
)

// config is the dashboard's configuration: environment first, then flags.
type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	RefreshInterval  time.Duration `env:"REFRESH_INTERVAL" envDefault:"1s"`   // how often a view is built of the snapshots and the offsets
	TailRecords      int           `env:"TAIL_RECORDS" envDefault:"200"`      // records read at each partition's end for the latest maxima; 0: none
	LatestPerStation int           `env:"LATEST_PER_STATION" envDefault:"30"` // latest reports kept per station
	History          time.Duration `env:"HISTORY" envDefault:"5m"`            // how far back /api/v1/lag goes
}

// loadConfig reads the environment and the command line, and validates both.
func loadConfig(args []string) (config, error) {
	cfg, rest, err := envconfig.Load("dashboard", args, func(fs *flag.FlagSet, c *config) {
		fs.StringVar(&c.Observe.HTTPAddr, "addr", c.Observe.HTTPAddr, "address of the page, the API, health and metrics (HTTP_ADDR)")
	}, config.validate)
	return cfg, cmp.Or(err, envconfig.NoArgs(rest))
}

// validate returns the first setting that cannot work, naming its variable.
func (c config) validate() error {
	return cmp.Or(
		c.Kafka.Validate(),
		c.Observe.Validate(),
		envconfig.AtLeast("REFRESH_INTERVAL", c.RefreshInterval, 100*time.Millisecond),
		envconfig.AtLeast("TAIL_RECORDS", c.TailRecords, 0),
		envconfig.AtMost("TAIL_RECORDS", c.TailRecords, 100_000),
		envconfig.AtLeast("LATEST_PER_STATION", c.LatestPerStation, 1),
		envconfig.AtMost("LATEST_PER_STATION", c.LatestPerStation, 1000),
		envconfig.AtLeast("HISTORY", c.History, c.RefreshInterval),
		envconfig.AtMost("HISTORY", c.History, time.Hour),
	)
}
