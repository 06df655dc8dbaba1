package main

import (
	"testing"

	"github.com/weatherstream/weather/services/common/envconfig/envdoc"
)

// docs/configuration.md lists exactly the variables the producer reads, each with
// the default its config struct gives it.
func TestConfigurationPageIsTheCode(t *testing.T) {
	envdoc.Check[config](t, "../../docs/configuration.md", "producer")
}
