package main

import (
	"cmp"
	"flag"

	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
)

// config is the debug consumer's configuration: environment first, then flags.
type config struct {
	Kafka   kafkaconfig.Config
	Observe observe.Config

	Group  string `env:"GROUP" envDefault:"debug"`
	Output string `env:"OUTPUT" envDefault:"text"` // text (the original's lines) or json
}

// loadConfig reads the environment and the command line, and validates both.
func loadConfig(args []string) (config, error) {
	cfg, rest, err := envconfig.Load("debug", args, func(fs *flag.FlagSet, c *config) {
		fs.StringVar(&c.Output, "output", c.Output, "text or json (OUTPUT)")
	}, config.validate)
	return cfg, cmp.Or(err, envconfig.NoArgs(rest))
}

// validate returns the first setting that cannot work, naming its variable.
func (c config) validate() error {
	return cmp.Or(
		c.Kafka.Validate(),
		c.Observe.Validate(),
		envconfig.NotEmpty("GROUP", c.Group),
		envconfig.OneOf("OUTPUT", c.Output, "text", "json"),
	)
}
