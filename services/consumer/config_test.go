package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/testkit"
)

// The partitions a consumer reads, and those its StatefulSet gives out.
func TestLoadConfigPartitions(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		args         []string
		wantMine     []int32
		wantAssigned []int32
	}{
		{"arguments", nil, []string{"0", "2"}, []int32{0, 2}, nil},
		{"PARTITIONS", map[string]string{"PARTITIONS": "1,3"}, nil, []int32{1, 3}, nil},
		{"dir flag", nil, []string{"-dir", "/tmp/x", "1"}, []int32{1}, nil},
		{"by ordinal", map[string]string{"PARTITIONS_BY_ORDINAL": "0,2;1,3", "POD_INDEX": "1"}, nil, []int32{1, 3}, []int32{0, 1, 2, 3}},
		{"by ordinal, typed with spaces", map[string]string{"PARTITIONS_BY_ORDINAL": "0 2;1 3", "POD_INDEX": "0"}, nil, []int32{0, 2}, []int32{0, 1, 2, 3}},
		{"a spare", map[string]string{"PARTITIONS_BY_ORDINAL": "0,2;1,3", "POD_INDEX": "5"}, nil, nil, []int32{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig(tt.args)
			if parts := cfg.parts; err != nil || !slices.Equal(parts.mine, tt.wantMine) || !slices.Equal(parts.assigned, tt.wantAssigned) {
				t.Errorf("loadConfig = %+v, %v; want mine %v, assigned %v", parts, err, tt.wantMine, tt.wantAssigned)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	var got config
	testkit.CheckConfig(t, []testkit.ConfigCase{
		{Name: "defaults", Args: []string{"0"}, Want: func() string {
			if got.DataDir != "." || got.OnOffsetOutOfRange != "fail" || got.LockWait != 30*time.Second || got.CheckpointInterval != 100*time.Millisecond ||
				got.SnapshotInterval != time.Second || got.MonitoringGroup != "weather-stats" || got.FetchMaxBytes != 262144 || got.StartAtLogStart {
				return fmt.Sprintf("%+v, want the documented defaults", got)
			}
			return ""
		}},
		{Name: "settings", Env: map[string]string{"DATA_DIR": "/env", "SNAPSHOT_INTERVAL": "250ms", "MONITORING_GROUP": "stats", "ON_OFFSET_OUT_OF_RANGE": "restart", "START_AT_LOG_START": "true"},
			Args: []string{"-dir", "/flag", "0"}, Want: func() string {
				if got.DataDir != "/flag" || got.SnapshotInterval != 250*time.Millisecond || got.MonitoringGroup != "stats" || got.OnOffsetOutOfRange != "restart" || !got.StartAtLogStart {
					return fmt.Sprintf("dir %s snapshots %s group %s on out of range %s start at log start %v, want /flag (the flag wins) 250ms stats restart true",
						got.DataDir, got.SnapshotInterval, got.MonitoringGroup, got.OnOffsetOutOfRange, got.StartAtLogStart)
				}
				return ""
			}},
		{Name: "snapshot interval", Env: map[string]string{"SNAPSHOT_INTERVAL": "10ms"}, Args: []string{"0"}, WantErr: "SNAPSHOT_INTERVAL is 10ms: want at least 100ms"},
		{Name: "empty monitoring group", Env: map[string]string{"MONITORING_GROUP": ""}, Args: []string{"0"}, WantErr: "MONITORING_GROUP is set but empty"},
		{Name: "by ordinal, bad", Env: map[string]string{"PARTITIONS_BY_ORDINAL": "0,2;2", "POD_INDEX": "0"}, WantErr: "gives partition 2 to ordinals 0 and 1"},
		{Name: "no partitions", WantErr: "no partitions"},
		{Name: "bad partition", Args: []string{"zero"}, WantErr: `partition "zero"`},
		{Name: "on out of range", Env: map[string]string{"ON_OFFSET_OUT_OF_RANGE": "maybe"}, Args: []string{"0"}, WantErr: `ON_OFFSET_OUT_OF_RANGE is "maybe": want fail or restart`},
		{Name: "start at log start", Env: map[string]string{"START_AT_LOG_START": "true"}, Args: []string{"0"}},
		{Name: "start at log start, not a bool", Env: map[string]string{"START_AT_LOG_START": "if need be"}, Args: []string{"0"}, WantErr: "START_AT_LOG_START"},
		{Name: "lock wait", Env: map[string]string{"LOCK_WAIT": "-5s"}, Args: []string{"0"}, WantErr: "LOCK_WAIT is -5s: want at least 0s"},
		{Name: "lock wait, not a duration", Env: map[string]string{"LOCK_WAIT": "soon"}, Args: []string{"0"}, WantErr: "LOCK_WAIT: "},
		{Name: "checkpoint interval", Env: map[string]string{"CHECKPOINT_INTERVAL": "-1s"}, Args: []string{"0"}, WantErr: "CHECKPOINT_INTERVAL is -1s"},
		{Name: "checkpoint retries", Env: map[string]string{"CHECKPOINT_RETRIES": "-1"}, Args: []string{"0"}, WantErr: "CHECKPOINT_RETRIES is -1"},
		{Name: "checkpoint backoff", Env: map[string]string{"CHECKPOINT_RETRY_BACKOFF": "-1s"}, Args: []string{"0"}, WantErr: "CHECKPOINT_RETRY_BACKOFF is -1s"},
		{Name: "topic check interval", Env: map[string]string{"TOPIC_CHECK_INTERVAL": "1ms"}, Args: []string{"0"}, WantErr: "TOPIC_CHECK_INTERVAL is 1ms: want at least 100ms"},
		{Name: "fetch partition bytes", Env: map[string]string{"FETCH_MAX_PARTITION_BYTES": "-1"}, Args: []string{"0"}, WantErr: "FETCH_MAX_PARTITION_BYTES is -1: want at least 1"},
		{Name: "fetch bytes", Env: map[string]string{"FETCH_MAX_BYTES": "0"}, Args: []string{"0"}, WantErr: "FETCH_MAX_BYTES is 0"},
		{Name: "pod index", Env: map[string]string{"POD_INDEX": "-2"}, Args: []string{"0"}, WantErr: "POD_INDEX is -2"},
		{Name: "empty data dir", Env: map[string]string{"DATA_DIR": ""}, Args: []string{"0"}, WantErr: "DATA_DIR is set but empty"},
		{Name: "empty topic", Env: map[string]string{"TOPIC": ""}, Args: []string{"0"}, WantErr: "TOPIC is set but empty"},
		{Name: "empty partitions", Env: map[string]string{"PARTITIONS": ""}, Args: []string{"0"}, WantErr: "PARTITIONS is set but empty: unset it, or give it a value"},
		{Name: "empty tls", Env: map[string]string{"KAFKA_TLS": ""}, Args: []string{"0"}, WantErr: "KAFKA_TLS is set but empty"},
		{Name: "empty ca file", Env: map[string]string{"KAFKA_TLS_CA_FILE": ""}, Args: []string{"0"}, WantErr: "KAFKA_TLS_CA_FILE is set but empty"},
		{Name: "http port not a number", Env: map[string]string{"HTTP_ADDR": ":notaport"}, Args: []string{"0"}, WantErr: `HTTP_ADDR ":notaport"`},
		{Name: "http connections", Env: map[string]string{"HTTP_MAX_CONNECTIONS": "-1"}, Args: []string{"0"}, WantErr: "HTTP_MAX_CONNECTIONS is -1"},
		{Name: "broker port", Env: map[string]string{"KAFKA_BROKERS": "kafka:notaport"}, Args: []string{"0"}, WantErr: `KAFKA_BROKERS "kafka:notaport"`},
	}, func(args []string) error { var err error; got, err = loadConfig(args); return err })
}
