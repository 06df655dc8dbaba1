package main

import (
	"testing"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestLoadConfig(t *testing.T) {
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "defaults"},
		{Name: "flags", Args: []string{"-addr", "127.0.0.1:9000"}},
		{Name: "no directory any more", Args: []string{"-dir", "data"}, WantErr: "flag provided but not defined: -dir"},
		{Name: "refresh too often", Env: map[string]string{"REFRESH_INTERVAL": "1ms"}, WantErr: "REFRESH_INTERVAL"},
		{Name: "refresh not a duration", Env: map[string]string{"REFRESH_INTERVAL": "soon"}, WantErr: "REFRESH_INTERVAL"},
		{Name: "tail off", Env: map[string]string{"TAIL_RECORDS": "0"}},
		{Name: "negative tail", Env: map[string]string{"TAIL_RECORDS": "-1"}, WantErr: "TAIL_RECORDS"},
		{Name: "huge tail", Env: map[string]string{"TAIL_RECORDS": "1000000"}, WantErr: "TAIL_RECORDS"},
		{Name: "no latest", Env: map[string]string{"LATEST_PER_STATION": "0"}, WantErr: "LATEST_PER_STATION"},
		{Name: "history below refresh", Env: map[string]string{"HISTORY": "500ms"}, WantErr: "HISTORY"},
		{Name: "bad address", Args: []string{"-addr", "nowhere"}, WantErr: "HTTP_ADDR"},
		{Name: "port not a number", Args: []string{"-addr", ":notaport"}, WantErr: `HTTP_ADDR ":notaport": want [host]:port`},
		{Name: "port too large", Env: map[string]string{"HTTP_ADDR": ":99999"}, WantErr: `HTTP_ADDR ":99999"`},
		{Name: "http connections", Env: map[string]string{"HTTP_MAX_CONNECTIONS": "0"}, WantErr: "HTTP_MAX_CONNECTIONS is 0"},
		{Name: "http idle timeout", Env: map[string]string{"HTTP_IDLE_TIMEOUT": "soon"}, WantErr: "HTTP_IDLE_TIMEOUT: "},
		{Name: "empty ca file", Env: map[string]string{"KAFKA_TLS_CA_FILE": ""}, WantErr: "KAFKA_TLS_CA_FILE is set but empty"},
		{Name: "empty tls", Env: map[string]string{"KAFKA_TLS": ""}, WantErr: "KAFKA_TLS is set but empty"},
		{Name: "broker port", Env: map[string]string{"KAFKA_BROKERS": "host:notaport"}, WantErr: `KAFKA_BROKERS "host:notaport"`},
		{Name: "topic", Env: map[string]string{"TOPIC": "bad topic!"}, WantErr: "TOPIC"},
		{Name: "arguments", Args: []string{"x"}, WantErr: "unexpected arguments"},
	}, func(args []string) error { _, err := loadConfig(args); return err })
}
