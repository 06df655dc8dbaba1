package envconfig

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	Wait time.Duration `env:"LOCK_WAIT" envDefault:"1s"`
}

type outer struct {
	Inner inner
	Count int `env:"COUNT" envDefault:"3"`
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    outer
		wantErr []string
	}{
		{"defaults", nil, outer{inner{time.Second}, 3}, nil},
		{"set", map[string]string{"LOCK_WAIT": "2m", "COUNT": "7"}, outer{inner{2 * time.Minute}, 7}, nil},
		{"bad nested duration", map[string]string{"LOCK_WAIT": "soon"}, outer{}, []string{`LOCK_WAIT: `, `"soon"`}},
		{"two bad", map[string]string{"LOCK_WAIT": "x", "COUNT": "many"}, outer{}, []string{"LOCK_WAIT: ", "COUNT: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := Parse[outer]()
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("Parse = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
