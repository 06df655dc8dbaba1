package main

import (
	"cmp"
	"time"

	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
)

// config is the controller's configuration, from the environment. It serves
// metrics and health on addresses of its own (controller-runtime's servers),
// so it has no HTTP_ADDR.
type config struct {
	Kafka kafkaconfig.Config
	Log   observe.LogConfig

	Namespace         string        `env:"NAMESPACE"` // the release's namespace (downward API)
	ConsumerContainer string        `env:"CONSUMER_CONTAINER" envDefault:"consumer"`
	PollInterval      time.Duration `env:"POLL_INTERVAL" envDefault:"10s"`
	// A consumer pod whose node has been NotReady (or which has been
	// unschedulable) this long is lost: its partitions go to live pods.
	// Shorter fails over sooner, but a node's passing blip then restarts
	// pods for nothing (counting a partition twice meanwhile is harmless).
	NodeLostAfter time.Duration `env:"NODE_LOST_AFTER" envDefault:"30s"`
	MetricsAddr   string        `env:"METRICS_ADDR" envDefault:":8080"`
	HealthAddr    string        `env:"HEALTH_ADDR" envDefault:":8081"`
	LeaderElect   bool          `env:"LEADER_ELECT" envDefault:"true"`
}

// loadConfig reads the environment and validates it.
func loadConfig() (config, error) {
	cfg, _, err := envconfig.Load("controller", nil, nil, config.validate)
	return cfg, err
}

// validate returns the first setting that cannot work, naming its variable.
func (c config) validate() error {
	return cmp.Or(
		c.Kafka.Validate(),
		c.Log.Validate(),
		envconfig.NotEmpty("NAMESPACE", c.Namespace),
		envconfig.AtLeast("POLL_INTERVAL", c.PollInterval, time.Millisecond),
		envconfig.AtLeast("NODE_LOST_AFTER", c.NodeLostAfter, time.Second),
		envconfig.Address("METRICS_ADDR", c.MetricsAddr),
		envconfig.Address("HEALTH_ADDR", c.HealthAddr),
	)
}
