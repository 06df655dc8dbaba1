package main

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "" = valid
	}{
		{"in a release", nil, ""},
		{"no namespace", map[string]string{"NAMESPACE": ""}, "NAMESPACE is empty"},
		{"poll interval", map[string]string{"POLL_INTERVAL": "0s"}, "POLL_INTERVAL is 0s"},
		{"metrics address", map[string]string{"METRICS_ADDR": "metrics"}, `METRICS_ADDR "metrics"`},
		{"health address", map[string]string{"HEALTH_ADDR": ""}, "HEALTH_ADDR is set but empty"},
		{"container", map[string]string{"CONSUMER_CONTAINER": ""}, "CONSUMER_CONTAINER is set but empty"},
		{"topic", map[string]string{"TOPIC": "a/b"}, `TOPIC "a/b"`},
		{"log level", map[string]string{"LOG_LEVEL": "chatty"}, "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NAMESPACE", "weather")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("loadConfig error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
