package main

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		args         []string
		wantMine     []int32
		wantAssigned []int32
		wantErr      string // "" = valid
	}{
		{"arguments", nil, []string{"0", "2"}, []int32{0, 2}, nil, ""},
		{"PARTITIONS", map[string]string{"PARTITIONS": "1,3"}, nil, []int32{1, 3}, nil, ""},
		{"dir flag", nil, []string{"-dir", "/tmp/x", "1"}, []int32{1}, nil, ""},
		{"by ordinal", map[string]string{"PARTITIONS_BY_ORDINAL": "0,2;1,3", "POD_INDEX": "1"}, nil, []int32{1, 3}, []int32{0, 1, 2, 3}, ""},
		{"by ordinal, typed with spaces", map[string]string{"PARTITIONS_BY_ORDINAL": "0 2;1 3", "POD_INDEX": "0"}, nil, []int32{0, 2}, []int32{0, 1, 2, 3}, ""},
		{"a spare", map[string]string{"PARTITIONS_BY_ORDINAL": "0,2;1,3", "POD_INDEX": "5"}, nil, nil, []int32{0, 1, 2, 3}, ""},
		{"by ordinal, bad", map[string]string{"PARTITIONS_BY_ORDINAL": "0,2;2", "POD_INDEX": "0"}, nil, nil, nil, "gives partition 2 to ordinals 0 and 1"},
		{"no partitions", nil, nil, nil, nil, "no partitions"},
		{"bad partition", nil, []string{"zero"}, nil, nil, `partition "zero"`},
		{"on out of range", map[string]string{"ON_OFFSET_OUT_OF_RANGE": "maybe"}, []string{"0"}, nil, nil, `ON_OFFSET_OUT_OF_RANGE is "maybe": want fail or restart`},
		{"lock wait", map[string]string{"LOCK_WAIT": "-5s"}, []string{"0"}, nil, nil, "LOCK_WAIT is -5s: want at least 0s"},
		{"lock wait, not a duration", map[string]string{"LOCK_WAIT": "soon"}, []string{"0"}, nil, nil, "LOCK_WAIT: "},
		{"checkpoint interval", map[string]string{"CHECKPOINT_INTERVAL": "-1s"}, []string{"0"}, nil, nil, "CHECKPOINT_INTERVAL is -1s"},
		{"checkpoint retries", map[string]string{"CHECKPOINT_RETRIES": "-1"}, []string{"0"}, nil, nil, "CHECKPOINT_RETRIES is -1"},
		{"checkpoint backoff", map[string]string{"CHECKPOINT_RETRY_BACKOFF": "-1s"}, []string{"0"}, nil, nil, "CHECKPOINT_RETRY_BACKOFF is -1s"},
		{"topic check interval", map[string]string{"TOPIC_CHECK_INTERVAL": "1ms"}, []string{"0"}, nil, nil, "TOPIC_CHECK_INTERVAL is 1ms: want at least 100ms"},
		{"fetch partition bytes", map[string]string{"FETCH_MAX_PARTITION_BYTES": "-1"}, []string{"0"}, nil, nil, "FETCH_MAX_PARTITION_BYTES is -1: want at least 1"},
		{"fetch bytes", map[string]string{"FETCH_MAX_BYTES": "0"}, []string{"0"}, nil, nil, "FETCH_MAX_BYTES is 0"},
		{"pod index", map[string]string{"POD_INDEX": "-2"}, []string{"0"}, nil, nil, "POD_INDEX is -2"},
		{"empty data dir", map[string]string{"DATA_DIR": ""}, []string{"0"}, nil, nil, "DATA_DIR is set but empty"},
		{"empty topic", map[string]string{"TOPIC": ""}, []string{"0"}, nil, nil, "TOPIC is set but empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, parts, err := loadConfig(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("loadConfig error %q, want one line with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(parts.mine, tt.wantMine) || !slices.Equal(parts.assigned, tt.wantAssigned) {
				t.Errorf("loadConfig = %+v, %v; want mine %v, assigned %v", parts, err, tt.wantMine, tt.wantAssigned)
			}
		})
	}
}
