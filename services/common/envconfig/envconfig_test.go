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
	Count int    `env:"COUNT" envDefault:"3"`
	TLS   bool   `env:"TLS"`  // no default
	File  string `env:"FILE"` // no default
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    outer
		wantErr []string
	}{
		{"defaults", nil, outer{Inner: inner{time.Second}, Count: 3}, nil},
		{"set", map[string]string{"LOCK_WAIT": "2m", "COUNT": "7", "TLS": "true", "FILE": "/ca.pem"}, outer{inner{2 * time.Minute}, 7, true, "/ca.pem"}, nil},
		{"bad nested duration", map[string]string{"LOCK_WAIT": "soon"}, outer{}, []string{`LOCK_WAIT: `, `"soon"`}},
		{"two bad", map[string]string{"LOCK_WAIT": "x", "COUNT": "many"}, outer{}, []string{"LOCK_WAIT: ", "COUNT: "}},
		// Set but empty would silently be the default: an error instead.
		{"empty with a default", map[string]string{"COUNT": ""}, outer{}, []string{"COUNT is set but empty"}},
		{"empty nested", map[string]string{"LOCK_WAIT": ""}, outer{}, []string{"LOCK_WAIT is set but empty"}},
		// Without a default it would silently be unset: KAFKA_TLS= as false.
		{"empty bool without a default", map[string]string{"TLS": ""}, outer{}, []string{"TLS is set but empty: unset it, or give it a value"}},
		{"empty string without a default", map[string]string{"FILE": ""}, outer{}, []string{"FILE is set but empty: unset it, or give it a value"}},
		{"each empty one named", map[string]string{"FILE": "", "COUNT": ""}, outer{}, []string{"FILE is set but empty", "COUNT is set but empty: unset it for its default"}},
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
		{"listen address", Address("HTTP_ADDR", ":8080"), ""},
		{"listen on any port", Address("HTTP_ADDR", "127.0.0.1:0"), ""},
		{"listen on the highest port", Address("HTTP_ADDR", "[::1]:65535"), ""},
		{"no port", Address("HTTP_ADDR", "8080"), `HTTP_ADDR "8080": want [host]:port, the port a number from 0 to 65535`},
		{"empty port", Address("HTTP_ADDR", "localhost:"), `HTTP_ADDR "localhost:"`},
		{"port not a number", Address("HTTP_ADDR", ":notaport"), `HTTP_ADDR ":notaport": want [host]:port, the port a number from 0 to 65535`},
		{"a service name", Address("HTTP_ADDR", ":http"), `HTTP_ADDR ":http"`},
		{"port too large", Address("HTTP_ADDR", ":99999"), `HTTP_ADDR ":99999"`},
		{"port 65536", Address("HTTP_ADDR", ":65536"), `HTTP_ADDR ":65536"`},
		{"negative port", Address("HTTP_ADDR", ":-1"), `HTTP_ADDR ":-1"`},
		{"signed port", Address("HTTP_ADDR", ":+80"), `HTTP_ADDR ":+80"`},
		{"dial", HostPort("kafka:9092", 1), ""},
		{"dial the highest port", HostPort("kafka:65535", 1), ""},
		{"dial port 0", HostPort("kafka:0", 1), "want [host]:port, the port a number from 1 to 65535"},
		{"dial port too large", HostPort("kafka:65536", 1), "from 1 to 65535"},
		{"dial port not a number", HostPort("kafka:notaport", 1), "from 1 to 65535"},
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
