package main

import (
	"fmt"
	"testing"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestLoadConfig(t *testing.T) {
	var got config
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "defaults", Want: func() string {
			if got.Group != "debug" || got.Output != "text" || got.Observe.HTTPAddr != ":8080" || got.Observe.HTTPMaxConnections != 512 {
				return fmt.Sprintf("%+v, want group debug, output text, HTTP :8080, 512 connections", got)
			}
			return ""
		}},
		{Name: "json flag", Args: []string{"-output", "json"}, Want: func() string {
			if got.Output != "json" {
				return "output " + got.Output + ", want json"
			}
			return ""
		}},
		{Name: "the flag wins", Env: map[string]string{"OUTPUT": "json", "GROUP": "mine"}, Args: []string{"-output", "text"}, Want: func() string {
			if got.Output != "text" || got.Group != "mine" {
				return fmt.Sprintf("output %s group %s, want text (the flag), mine", got.Output, got.Group)
			}
			return ""
		}},
		{Name: "output", Env: map[string]string{"OUTPUT": "xml"}, WantErr: `OUTPUT is "xml": want text or json`},
		{Name: "output flag", Args: []string{"-output", "xml"}, WantErr: `OUTPUT is "xml"`},
		{Name: "empty group", Env: map[string]string{"GROUP": ""}, WantErr: "GROUP is set but empty"},
		{Name: "log format", Env: map[string]string{"LOG_FORMAT": "fancy"}, WantErr: "LOG_FORMAT"},
		{Name: "http port not a number", Env: map[string]string{"HTTP_ADDR": ":notaport"}, WantErr: `HTTP_ADDR ":notaport"`},
		{Name: "http port too large", Env: map[string]string{"HTTP_ADDR": ":99999"}, WantErr: `HTTP_ADDR ":99999"`},
		{Name: "http idle timeout", Env: map[string]string{"HTTP_IDLE_TIMEOUT": "10ms"}, WantErr: "HTTP_IDLE_TIMEOUT is 10ms: want at least 100ms"},
		{Name: "http limits", Env: map[string]string{"HTTP_MAX_CONNECTIONS": "8", "HTTP_IDLE_TIMEOUT": "1s"}},
		{Name: "empty sasl mechanism", Env: map[string]string{"KAFKA_SASL_MECHANISM": ""}, WantErr: "KAFKA_SASL_MECHANISM is set but empty"},
		{Name: "broker port", Env: map[string]string{"KAFKA_BROKERS": "kafka:99999"}, WantErr: `KAFKA_BROKERS "kafka:99999"`},
		{Name: "arguments", Args: []string{"x"}, WantErr: "unexpected arguments"},
	}, func(args []string) error { var err error; got, err = loadConfig(args); return err })
}
