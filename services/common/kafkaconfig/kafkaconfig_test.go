package kafkaconfig

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "temperatures", ConnectTimeout: 30 * time.Second}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"good", func(*Config) {}, ""},
		{"several brokers", func(c *Config) { c.Brokers = []string{"a:1", "b:2"} }, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "KAFKA_BROKERS is empty"},
		{"no port", func(c *Config) { c.Brokers = []string{"kafka"} }, `KAFKA_BROKERS "kafka"`},
		{"an empty entry", func(c *Config) { c.Brokers = []string{"a:1", ""} }, "KAFKA_BROKERS"},
		{"topic with a slash", func(c *Config) { c.Topic = "a/b" }, `TOPIC "a/b"`},
		{"topic too long", func(c *Config) { c.Topic = strings.Repeat("t", 250) }, "TOPIC"},
		{"topic dot", func(c *Config) { c.Topic = "." }, "TOPIC"},
		{"connect timeout", func(c *Config) { c.ConnectTimeout = 0 }, "KAFKA_CONNECT_TIMEOUT is 0s"},
		{"sasl", func(c *Config) { c.SASLMechanism, c.SASLUser = "SCRAM-SHA-512", "u" }, ""},
		{"sasl lower case", func(c *Config) { c.SASLMechanism, c.SASLUser = "plain", "u" }, ""},
		{"sasl without user", func(c *Config) { c.SASLMechanism = "PLAIN" }, "KAFKA_SASL_USERNAME is empty"},
		{"sasl unknown", func(c *Config) { c.SASLMechanism = "MAGIC" }, `KAFKA_SASL_MECHANISM "MAGIC"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestOptsReadsTheCAFile(t *testing.T) {
	c := Config{Brokers: []string{"a:1"}, Topic: "t", ConnectTimeout: time.Second, TLSCAFile: "/nonexistent/ca.pem"}
	if _, err := c.Opts(); err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CA_FILE") {
		t.Errorf("Opts = %v, want an error naming KAFKA_TLS_CA_FILE", err)
	}
}
