package envdoc

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

type shared struct {
	Brokers string `env:"BROKERS" envDefault:"127.0.0.1:9092"`
	CA      string `env:"CA_FILE"`
}

type svc struct {
	Shared shared
	Wait   time.Duration `env:"WAIT" envDefault:"30s"`
	Index  int           `env:"INDEX" envDefault:"-1"`
}

var tables = map[string][]string{"svc": {"Every service", "Svc"}, "other": {"Every service", "Other"}}

const good = "# Configuration\n\n## Every service\n\n" +
	"| variable | default | meaning |\n| --- | --- | --- |\n" +
	"| `BROKERS` | `127.0.0.1:9092` | where | \n| `CA_FILE` | | a file, `x | y` |\n\n" +
	"## Svc\n\n| variable | default | meaning |\n| --- | --- | --- |\n| `WAIT`, `INDEX` | `30s` | two in a row share it |\n\n" +
	"## Other\n\n| variable | default | meaning |\n| --- | --- | --- |\n| `OTHER_ONLY` | `1` | not svc's, not checked for it |\n"

func TestProblems(t *testing.T) {
	fixed := strings.Replace(good, "| `WAIT`, `INDEX` | `30s` | two in a row share it |", "| `WAIT` | `30s` | w |\n| `INDEX` | `-1` | i |", 1)
	for _, tc := range []struct {
		name, page string
		want       []string // each a problem's beginning, in order
	}{
		{"every variable with its default", fixed, nil},
		{"two in a row get one default", good, []string{`INDEX: the page says default "30s", the code "-1"`}},
		{"a variable missing", strings.Replace(fixed, "| `CA_FILE` | | a file, `x | y` |\n", "", 1), []string{`CA_FILE (default "") is not on the page`}},
		{"a variable the code does not read", strings.Replace(fixed, "| `WAIT` |", "| `WAIT`, `WAITED` |", 1), []string{"WAITED is on the page, but the code reads no such variable"}},
		{"a default the code has not", strings.Replace(fixed, "| `CA_FILE` | |", "| `CA_FILE` | `ca.pem` |", 1), []string{`CA_FILE: the page says default "ca.pem", the code ""`}},
		{"a default not in backticks", strings.Replace(fixed, "`30s` | w", "30s | w", 1), []string{"line 14: default \"30s\" is not one value in backticks", `WAIT (default "30s") is not on the page`}},
		{"a variable twice", strings.Replace(fixed, "| `INDEX` | `-1` | i |", "| `INDEX` | `-1` | i |\n| `BROKERS` | `127.0.0.1:9092` | again |", 1), []string{"line 16: BROKERS is documented twice"}},
		{"a table no check reads", fixed + "\n## Stray\n\n| variable | default | meaning |\n| --- | --- | --- |\n| `STRAY` | | x |\n", []string{`a settings table under "Stray"`}},
		{"a table gone", strings.Replace(fixed, "## Other", "## Others", 1), []string{`a settings table under "Others"`, `no settings table under a heading "Other"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Problems[svc](tc.page, tables, "svc")
			ok := len(got) == len(tc.want)
			for i := range got {
				ok = ok && strings.HasPrefix(got[i], tc.want[i])
			}
			if !ok {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Tables names the five services, each of whose tests checks its own
// tables (services/*/configdoc_test.go).
func TestTablesNameTheFiveServices(t *testing.T) {
	want := []string{"consumer", "controller", "dashboard", "debug", "producer"}
	if got := slices.Sorted(maps.Keys(Tables)); !slices.Equal(got, want) {
		t.Errorf("Tables name %v, want %v", got, want)
	}
}
