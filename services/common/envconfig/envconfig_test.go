package envconfig

import (
	"flag"
	"slices"
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
		// Set but empty would silently be the default: an error instead.
		{"empty with a default", map[string]string{"COUNT": ""}, outer{}, []string{"COUNT is set but empty"}},
		{"empty nested", map[string]string{"LOCK_WAIT": ""}, outer{}, []string{"LOCK_WAIT is set but empty"}},
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

func TestChecks(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" = no error
	}{
		{"at least, equal", AtLeast("RETRIES", 0, 0), ""},
		{"at least, below", AtLeast("RETRIES", -1, 0), "RETRIES is -1: want at least 0"},
		{"at least, duration", AtLeast("WAIT", -5*time.Second, 0), "WAIT is -5s: want at least 0s"},
		{"at most", AtMost("N", 10, 10), ""},
		{"at most, above", AtMost("N", 11, 10), "N is 11: want at most 10"},
		{"one of", OneOf("MODE", "fail", "fail", "restart"), ""},
		{"none of", OneOf("MODE", "maybe", "fail", "restart"), `MODE is "maybe": want fail or restart`},
		{"not empty", NotEmpty("ID", "x"), ""},
		{"empty", NotEmpty("ID", ""), "ID is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == "" && tt.err != nil:
				t.Errorf("error %v, want none", tt.err)
			case tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)):
				t.Errorf("error %v, want %q", tt.err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	got := Defaults[outer]()
	if len(got) != 2 || got["LOCK_WAIT"] != "1s" || got["COUNT"] != "3" {
		t.Errorf("Defaults = %v", got)
	}
}

func TestPrintDefaults(t *testing.T) {
	var out strings.Builder
	if err := PrintDefaults[outer](&out); err != nil {
		t.Fatal(err)
	}
	if want := "COUNT=3\nLOCK_WAIT=1s\n"; out.String() != want {
		t.Errorf("PrintDefaults wrote %q, want %q", out.String(), want)
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("COUNT", "7")
	flags := func(fs *flag.FlagSet, c *outer) { fs.IntVar(&c.Count, "count", c.Count, "") }
	validate := func(c outer) error { return AtLeast("COUNT", c.Count, 0) }
	tests := []struct {
		name      string
		args      []string
		wantCount int
		wantRest  []string
		wantErr   bool
	}{
		{"the environment", nil, 7, nil, false},
		{"a flag wins", []string{"-count", "9"}, 9, nil, false},
		{"arguments left", []string{"-count", "9", "0", "2"}, 9, []string{"0", "2"}, false},
		{"an unknown flag", []string{"-loud"}, 0, nil, true},
		{"invalid", []string{"-count", "-1"}, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, rest, err := Load("svc", tt.args, flags, validate)
			if (err != nil) != tt.wantErr || !tt.wantErr && (cfg.Count != tt.wantCount || !slices.Equal(rest, tt.wantRest)) {
				t.Errorf("Load = %+v, %q, %v", cfg, rest, err)
			}
		})
	}
}

func TestNoArgs(t *testing.T) {
	if NoArgs(nil) != nil || NoArgs([]string{"x"}) == nil {
		t.Error("NoArgs")
	}
}
