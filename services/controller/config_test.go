package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestLoadConfig(t *testing.T) {
	t.Setenv("NAMESPACE", "weather") // as the chart sets it
	var got config
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "in a release", Want: func() string {
			if got.Namespace != "weather" || got.ConsumerContainer != "consumer" || got.PollInterval != 10*time.Second || got.NodeLostAfter != 30*time.Second ||
				got.MetricsAddr != ":8080" || got.HealthAddr != ":8081" || !got.LeaderElect {
				return fmt.Sprintf("%+v, want the documented defaults in namespace weather", got)
			}
			return ""
		}},
		{Name: "settings", Env: map[string]string{"NODE_LOST_AFTER": "1m", "POLL_INTERVAL": "2s", "LEADER_ELECT": "false"}, Want: func() string {
			if got.NodeLostAfter != time.Minute || got.PollInterval != 2*time.Second || got.LeaderElect {
				return fmt.Sprintf("node lost after %s, poll %s, leader elect %v; want 1m0s 2s false", got.NodeLostAfter, got.PollInterval, got.LeaderElect)
			}
			return ""
		}},
		{Name: "empty namespace", Env: map[string]string{"NAMESPACE": ""}, WantErr: "NAMESPACE is set but empty: unset it, or give it a value"},
		{Name: "poll interval", Env: map[string]string{"POLL_INTERVAL": "0s"}, WantErr: "POLL_INTERVAL is 0s"},
		{Name: "node lost after", Env: map[string]string{"NODE_LOST_AFTER": "500ms"}, WantErr: "NODE_LOST_AFTER is 500ms: want at least 1s"},
		{Name: "metrics address", Env: map[string]string{"METRICS_ADDR": "metrics"}, WantErr: `METRICS_ADDR "metrics"`},
		{Name: "health address", Env: map[string]string{"HEALTH_ADDR": ""}, WantErr: "HEALTH_ADDR is set but empty"},
		{Name: "metrics port not a number", Env: map[string]string{"METRICS_ADDR": ":notaport"}, WantErr: `METRICS_ADDR ":notaport": want [host]:port, the port a number from 0 to 65535`},
		{Name: "health port too large", Env: map[string]string{"HEALTH_ADDR": ":99999"}, WantErr: `HEALTH_ADDR ":99999"`},
		{Name: "empty tls", Env: map[string]string{"KAFKA_TLS": ""}, WantErr: "KAFKA_TLS is set but empty"},
		{Name: "broker port", Env: map[string]string{"KAFKA_BROKERS": "kafka:0"}, WantErr: `KAFKA_BROKERS "kafka:0"`},
		{Name: "container", Env: map[string]string{"CONSUMER_CONTAINER": ""}, WantErr: "CONSUMER_CONTAINER is set but empty"},
		{Name: "topic", Env: map[string]string{"TOPIC": "a/b"}, WantErr: `TOPIC "a/b"`},
		{Name: "log level", Env: map[string]string{"LOG_LEVEL": "chatty"}, WantErr: "LOG_LEVEL"},
	}, func([]string) error { var err error; got, err = loadConfig(); return err })
}
