package main

import (
	"cmp"
	"flag"
	"fmt"

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

func loadConfig(args []string) (config, error) {
	cfg, err := envconfig.Parse[config]()
	if err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("debug", flag.ContinueOnError)
	fs.StringVar(&cfg.Output, "output", cfg.Output, "text or json (OUTPUT)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, cfg.validate()
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
