package main

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"defaults", nil, nil, ""},
		{"json flag", nil, []string{"-output", "json"}, ""},
		{"output", map[string]string{"OUTPUT": "xml"}, nil, `OUTPUT is "xml": want text or json`},
		{"output flag", nil, []string{"-output", "xml"}, `OUTPUT is "xml"`},
		{"empty group", map[string]string{"GROUP": ""}, nil, "GROUP is set but empty"},
		{"log format", map[string]string{"LOG_FORMAT": "fancy"}, nil, "LOG_FORMAT"},
		{"arguments", nil, []string{"x"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig(tt.args)
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
