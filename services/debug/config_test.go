package main

import (
	"testing"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestLoadConfig(t *testing.T) {
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "defaults"},
		{Name: "json flag", Args: []string{"-output", "json"}},
		{Name: "output", Env: map[string]string{"OUTPUT": "xml"}, WantErr: `OUTPUT is "xml": want text or json`},
		{Name: "output flag", Args: []string{"-output", "xml"}, WantErr: `OUTPUT is "xml"`},
		{Name: "empty group", Env: map[string]string{"GROUP": ""}, WantErr: "GROUP is set but empty"},
		{Name: "log format", Env: map[string]string{"LOG_FORMAT": "fancy"}, WantErr: "LOG_FORMAT"},
		{Name: "arguments", Args: []string{"x"}, WantErr: "unexpected arguments"},
	}, func(args []string) error { _, err := loadConfig(args); return err })
}
