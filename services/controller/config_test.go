package main

import (
	"testing"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestLoadConfig(t *testing.T) {
	t.Setenv("NAMESPACE", "weather") // as the chart sets it
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "in a release"},
		{Name: "no namespace", Env: map[string]string{"NAMESPACE": ""}, WantErr: "NAMESPACE is empty"},
		{Name: "poll interval", Env: map[string]string{"POLL_INTERVAL": "0s"}, WantErr: "POLL_INTERVAL is 0s"},
		{Name: "metrics address", Env: map[string]string{"METRICS_ADDR": "metrics"}, WantErr: `METRICS_ADDR "metrics"`},
		{Name: "health address", Env: map[string]string{"HEALTH_ADDR": ""}, WantErr: "HEALTH_ADDR is set but empty"},
		{Name: "container", Env: map[string]string{"CONSUMER_CONTAINER": ""}, WantErr: "CONSUMER_CONTAINER is set but empty"},
		{Name: "topic", Env: map[string]string{"TOPIC": "a/b"}, WantErr: `TOPIC "a/b"`},
		{Name: "log level", Env: map[string]string{"LOG_LEVEL": "chatty"}, WantErr: "LOG_LEVEL"},
	}, func([]string) error { _, err := loadConfig(); return err })
}
