// Command debug prints every report it reads, one line each, for a person
// watching `kubectl logs`. It is a member of consumer group "debug": the
// broker assigns its partitions, a first run starts at the end of the topic
// and later runs resume from the group's committed offsets.
package main

import (
	"context"
	"os"

	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/service"
	"github.com/weatherstream/weather/services/debug/internal/printer"
	"github.com/weatherstream/weather/services/debug/internal/tail"
)

func main() {
	service.Main("debug", loadConfig, run, func(c config, err error) error { return c.Kafka.Explain(err) })
}

func run(ctx context.Context, cfg config) error {
	obs, err := observe.Start(ctx, cfg.Observe, "debug", tail.NewMetrics)
	if err != nil {
		return err
	}
	opts := append(tail.ClientOpts(obs.Log, cfg.Group, cfg.Kafka.Topic, func() { obs.Health.Ready(true) }),
		obs.KafkaHooks)
	client, err := kafkaconfig.Connect(ctx, cfg.Kafka, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	format := printer.Python
	if cfg.Output == "json" {
		format = printer.JSON
	}
	err = tail.Run(ctx, obs.Log, client, os.Stdout, format, obs.Metrics)
	obs.Log.Info("stopped", "err", err)
	return err
}
