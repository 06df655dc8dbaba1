package observe

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		c       Config
		wantErr string
	}{
		{Config{LogConfig{"text", "info"}, ":8080"}, ""},
		{Config{LogConfig{"JSON", "debug"}, "127.0.0.1:0"}, ""},
		{Config{LogConfig{"fancy", "info"}, ":8080"}, `LOG_FORMAT is "fancy"`},
		{Config{LogConfig{"text", "loud"}, ":8080"}, `LOG_LEVEL "loud"`},
		{Config{LogConfig{"text", "info"}, "8080"}, `HTTP_ADDR "8080"`},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.c, err, tt.wantErr)
		}
	}
}
