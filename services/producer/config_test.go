package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestLoadConfig(t *testing.T) {
	var got config
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "defaults", Want: func() string {
			if got.Count != 0 || got.Interval != 100*time.Millisecond || got.Seed != 1 || got.Stations != 10 || got.RecreateTopic || got.StreamTakeover ||
				got.TxnMaxRecords != 10000 || got.TxnMaxInterval != time.Second || got.ProduceLinger != time.Millisecond || got.ProduceCompression != "snappy" ||
				got.TransactionalID != "weather-producer" || got.TopicRetentionMs != -1 || got.Kafka.Topic != "temperatures" {
				return fmt.Sprintf("%+v, want the documented defaults", got)
			}
			return ""
		}},
		{Name: "flags", Args: []string{"-count", "5", "-interval", "0", "-seed", "3", "-takeover", "-recreate-topic"}, Want: func() string {
			if got.Count != 5 || got.Interval != 0 || got.Seed != 3 || !got.StreamTakeover || !got.RecreateTopic {
				return fmt.Sprintf("count %d interval %s seed %d takeover %v recreate %v, want 5 0s 3 true true", got.Count, got.Interval, got.Seed, got.StreamTakeover, got.RecreateTopic)
			}
			return ""
		}},
		{Name: "flags win over the environment", Env: map[string]string{"SEED": "9", "COUNT": "7"}, Args: []string{"-seed", "4"}, Want: func() string {
			if got.Seed != 4 || got.Count != 7 {
				return fmt.Sprintf("seed %d count %d, want 4 (the flag) and 7 (the environment)", got.Seed, got.Count)
			}
			return ""
		}},
		{Name: "no stations", Env: map[string]string{"STATIONS": "0"}, WantErr: "STATIONS is 0: want at least 1"},
		{Name: "too many stations", Env: map[string]string{"STATIONS": "100001"}, WantErr: "STATIONS is 100001: want at most 100000"},
		{Name: "negative count", Env: map[string]string{"COUNT": "-5"}, WantErr: "COUNT is -5: want at least 0"},
		{Name: "negative count flag", Args: []string{"-count", "-5"}, WantErr: "COUNT is -5"},
		{Name: "idle after count", Env: map[string]string{"COUNT": "5", "IDLE_AFTER_COUNT": "true"}},
		{Name: "idle after count, not a bool", Env: map[string]string{"IDLE_AFTER_COUNT": "sometimes"}, WantErr: "IDLE_AFTER_COUNT"},
		{Name: "negative interval", Env: map[string]string{"INTERVAL": "-1s"}, WantErr: "INTERVAL is -1s"},
		{Name: "bad interval", Env: map[string]string{"INTERVAL": "fast"}, WantErr: "INTERVAL: "},
		{Name: "no partitions", Env: map[string]string{"TOPIC_PARTITIONS": "0"}, WantErr: "TOPIC_PARTITIONS is 0: want at least 1"},
		{Name: "no replicas", Env: map[string]string{"TOPIC_REPLICATION_FACTOR": "0"}, WantErr: "TOPIC_REPLICATION_FACTOR is 0"},
		{Name: "retention for ever", Env: map[string]string{"TOPIC_RETENTION_MS": "-1"}},
		{Name: "retention an hour", Env: map[string]string{"TOPIC_RETENTION_MS": "3600000"}},
		{Name: "retention 0", Env: map[string]string{"TOPIC_RETENTION_MS": "0"}, WantErr: "TOPIC_RETENTION_MS is 0: want -1 (keep every record) or a time"},
		{Name: "retention -2", Env: map[string]string{"TOPIC_RETENTION_MS": "-2"}, WantErr: "TOPIC_RETENTION_MS is -2"},
		{Name: "retention not a number", Env: map[string]string{"TOPIC_RETENTION_MS": "7d"}, WantErr: "TOPIC_RETENTION_MS"},
		{Name: "empty transactional id", Env: map[string]string{"TRANSACTIONAL_ID": ""}, WantErr: "TRANSACTIONAL_ID is set but empty"},
		{Name: "empty topic", Env: map[string]string{"TOPIC": ""}, WantErr: "TOPIC is set but empty"},
		{Name: "bad topic", Env: map[string]string{"TOPIC": "two words"}, WantErr: `TOPIC "two words"`},
		{Name: "empty brokers", Env: map[string]string{"KAFKA_BROKERS": ""}, WantErr: "KAFKA_BROKERS is set but empty"},
		{Name: "broker without port", Env: map[string]string{"KAFKA_BROKERS": "kafka"}, WantErr: `KAFKA_BROKERS "kafka"`},
		{Name: "empty broker in the list", Env: map[string]string{"KAFKA_BROKERS": "a:1,,b:2"}, WantErr: "KAFKA_BROKERS"},
		{Name: "no connect timeout", Env: map[string]string{"KAFKA_CONNECT_TIMEOUT": "0s"}, WantErr: "KAFKA_CONNECT_TIMEOUT is 0s"},
		{Name: "txn records", Env: map[string]string{"TXN_MAX_RECORDS": "0"}, WantErr: "TXN_MAX_RECORDS is 0"},
		{Name: "txn interval", Env: map[string]string{"TXN_MAX_INTERVAL": "-1ms"}, WantErr: "TXN_MAX_INTERVAL is -1ms"},
		{Name: "negative retries", Env: map[string]string{"PRODUCE_RETRIES": "-1"}, WantErr: "PRODUCE_RETRIES is -1: want at least 0"},
		{Name: "no linger", Env: map[string]string{"PRODUCE_LINGER": "0s"}},
		{Name: "negative linger", Env: map[string]string{"PRODUCE_LINGER": "-1ms"}, WantErr: "PRODUCE_LINGER is -1ms: want at least 0s"},
		{Name: "linger not a duration", Env: map[string]string{"PRODUCE_LINGER": "5"}, WantErr: "PRODUCE_LINGER"},
		{Name: "no compression", Env: map[string]string{"PRODUCE_COMPRESSION": "none"}},
		{Name: "zstd", Env: map[string]string{"PRODUCE_COMPRESSION": "zstd"}},
		{Name: "unknown compression", Env: map[string]string{"PRODUCE_COMPRESSION": "brotli"},
			WantErr: `PRODUCE_COMPRESSION is "brotli": want gzip or lz4 or none or snappy or zstd`},
		{Name: "sasl mechanism", Env: map[string]string{"KAFKA_SASL_MECHANISM": "MAGIC"}, WantErr: "KAFKA_SASL_MECHANISM"},
		{Name: "sasl without user", Env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN"}, WantErr: "KAFKA_SASL_USERNAME is empty"},
		{Name: "log format", Env: map[string]string{"LOG_FORMAT": "fancy"}, WantErr: `LOG_FORMAT is "fancy"`},
		{Name: "log level", Env: map[string]string{"LOG_LEVEL": "loud"}, WantErr: `LOG_LEVEL "loud"`},
		{Name: "http address", Env: map[string]string{"HTTP_ADDR": "8080"}, WantErr: `HTTP_ADDR "8080"`},
		{Name: "http port not a number", Env: map[string]string{"HTTP_ADDR": ":notaport"}, WantErr: `HTTP_ADDR ":notaport": want [host]:port, the port a number from 0 to 65535`},
		{Name: "http port too large", Env: map[string]string{"HTTP_ADDR": ":99999"}, WantErr: `HTTP_ADDR ":99999"`},
		{Name: "http any port", Env: map[string]string{"HTTP_ADDR": "127.0.0.1:0"}},
		{Name: "http connections", Env: map[string]string{"HTTP_MAX_CONNECTIONS": "0"}, WantErr: "HTTP_MAX_CONNECTIONS is 0: want at least 1"},
		{Name: "http connections, not a number", Env: map[string]string{"HTTP_MAX_CONNECTIONS": "many"}, WantErr: "HTTP_MAX_CONNECTIONS: "},
		{Name: "http idle timeout", Env: map[string]string{"HTTP_IDLE_TIMEOUT": "0s"}, WantErr: "HTTP_IDLE_TIMEOUT is 0s: want at least 100ms"},
		{Name: "http idle timeout, empty", Env: map[string]string{"HTTP_IDLE_TIMEOUT": ""}, WantErr: "HTTP_IDLE_TIMEOUT is set but empty"},
		{Name: "broker port not a number", Env: map[string]string{"KAFKA_BROKERS": "host:notaport"}, WantErr: `KAFKA_BROKERS "host:notaport": want [host]:port, the port a number from 1 to 65535`},
		{Name: "broker port 0", Env: map[string]string{"KAFKA_BROKERS": "host:0"}, WantErr: `KAFKA_BROKERS "host:0"`},
		{Name: "a bad broker of several", Env: map[string]string{"KAFKA_BROKERS": "a:9092,b:x"}, WantErr: `KAFKA_BROKERS "a:9092,b:x": entry "b:x"`},
		{Name: "empty tls", Env: map[string]string{"KAFKA_TLS": ""}, WantErr: "KAFKA_TLS is set but empty: unset it, or give it a value"},
		{Name: "empty sasl mechanism", Env: map[string]string{"KAFKA_SASL_MECHANISM": ""}, WantErr: "KAFKA_SASL_MECHANISM is set but empty"},
		{Name: "empty ca file", Env: map[string]string{"KAFKA_TLS_CA_FILE": ""}, WantErr: "KAFKA_TLS_CA_FILE is set but empty"},
		{Name: "password file /dev/zero", Env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD_FILE": "/dev/zero"},
			WantErr: "KAFKA_SASL_PASSWORD_FILE: open /dev/zero: not a regular file (a device)"},
		{Name: "arguments", Args: []string{"extra"}, WantErr: "unexpected arguments"},
	}, func(args []string) error { var err error; got, err = loadConfig(args); return err })
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.Topic != "temperatures" || cfg.TransactionalID != "weather-producer" || cfg.Interval != 100*time.Millisecond ||
		cfg.TopicPartitions != 4 || cfg.TopicRetentionMs != -1 || cfg.ProduceRetries != 10 ||
		cfg.ProduceLinger != time.Millisecond || cfg.ProduceCompression != "snappy" || cfg.StreamTakeover || cfg.IdleAfterCount {
		t.Errorf("defaults %+v", cfg)
	}
}
