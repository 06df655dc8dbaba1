package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // "" = valid
	}{
		{"defaults", nil, nil, ""},
		{"flags", nil, []string{"-count", "5", "-interval", "0", "-seed", "3", "-takeover"}, ""},
		{"negative count", map[string]string{"COUNT": "-5"}, nil, "COUNT is -5: want at least 0"},
		{"negative count flag", nil, []string{"-count", "-5"}, "COUNT is -5"},
		{"negative interval", map[string]string{"INTERVAL": "-1s"}, nil, "INTERVAL is -1s"},
		{"bad interval", map[string]string{"INTERVAL": "fast"}, nil, "INTERVAL: "},
		{"no partitions", map[string]string{"TOPIC_PARTITIONS": "0"}, nil, "TOPIC_PARTITIONS is 0: want at least 1"},
		{"no replicas", map[string]string{"TOPIC_REPLICATION_FACTOR": "0"}, nil, "TOPIC_REPLICATION_FACTOR is 0"},
		{"empty transactional id", map[string]string{"TRANSACTIONAL_ID": ""}, nil, "TRANSACTIONAL_ID is set but empty"},
		{"empty topic", map[string]string{"TOPIC": ""}, nil, "TOPIC is set but empty"},
		{"bad topic", map[string]string{"TOPIC": "two words"}, nil, `TOPIC "two words"`},
		{"empty brokers", map[string]string{"KAFKA_BROKERS": ""}, nil, "KAFKA_BROKERS is set but empty"},
		{"broker without port", map[string]string{"KAFKA_BROKERS": "kafka"}, nil, `KAFKA_BROKERS "kafka"`},
		{"empty broker in the list", map[string]string{"KAFKA_BROKERS": "a:1,,b:2"}, nil, "KAFKA_BROKERS"},
		{"no connect timeout", map[string]string{"KAFKA_CONNECT_TIMEOUT": "0s"}, nil, "KAFKA_CONNECT_TIMEOUT is 0s"},
		{"txn records", map[string]string{"TXN_MAX_RECORDS": "0"}, nil, "TXN_MAX_RECORDS is 0"},
		{"txn interval", map[string]string{"TXN_MAX_INTERVAL": "-1ms"}, nil, "TXN_MAX_INTERVAL is -1ms"},
		{"negative retries", map[string]string{"PRODUCE_RETRIES": "-1"}, nil, "PRODUCE_RETRIES is -1: want at least 0"},
		{"sasl mechanism", map[string]string{"KAFKA_SASL_MECHANISM": "MAGIC"}, nil, "KAFKA_SASL_MECHANISM"},
		{"sasl without user", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN"}, nil, "KAFKA_SASL_USERNAME is empty"},
		{"log format", map[string]string{"LOG_FORMAT": "fancy"}, nil, `LOG_FORMAT is "fancy"`},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, nil, `LOG_LEVEL "loud"`},
		{"http address", map[string]string{"HTTP_ADDR": "8080"}, nil, `HTTP_ADDR "8080"`},
		{"arguments", nil, []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig(tt.args)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("loadConfig error %q, want one line with %q (config %+v)", err, tt.wantErr, cfg)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.Topic != "temperatures" || cfg.TransactionalID != "weather-producer" || cfg.Interval != 100*time.Millisecond ||
		cfg.TopicPartitions != 4 || cfg.ProduceRetries != 10 || cfg.StreamTakeover {
		t.Errorf("defaults %+v", cfg)
	}
}
