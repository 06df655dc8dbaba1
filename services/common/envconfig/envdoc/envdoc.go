// Package envdoc holds docs/configuration.md to the code. A setting's name
// and default live in one place, the env and envDefault tags of the field
// that reads it; the page says what each means. Each service's test calls
// Check with its config struct, so a variable added, renamed, dropped or
// given another default without the page following fails that service's
// tests — the page can never be a hand-kept copy that drifts.
package envdoc

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
)

// Tables are, for each service, the headings of docs/configuration.md whose
// settings tables together list its variables. A table the page gains must
// be named here (every service's check fails until it is), so that no table
// goes unchecked.
var Tables = map[string][]string{
	"producer":   {everyService, butController, "Producer"},
	"consumer":   {everyService, butController, "Stats consumer"},
	"debug":      {everyService, butController, "Debug consumer"},
	"dashboard":  {everyService, butController, "Dashboard"},
	"controller": {everyService, "Partition controller"},
}

const everyService, butController = "Every service", "Every service but the controller"

// Check fails t unless the tables of the page at path that apply to service
// list exactly the variables of T (its nested structs' included), each with
// its default.
func Check[T any](t testing.TB, path, service string) {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Problems[T](string(page), Tables, service) {
		t.Errorf("%s, %s: %s", path, service, p)
	}
}

var (
	headingRe = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*$`)
	headerRe  = regexp.MustCompile(`^\|\s*variable\s*\|\s*default\s*\|`)
	nameRe    = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	defaultRe = regexp.MustCompile("^`([^`]*)`$")
)

// Problems are what the page gets wrong about T's variables: the tables
// under the headings tables gives service must list each variable of T once,
// with its default in backticks (none for a variable without one), and
// nothing else; and the page's settings tables must be exactly those under
// the headings tables gives any service.
func Problems[T any](page string, tables map[string][]string, service string) []string {
	known := map[string]bool{}
	for _, headings := range tables {
		for _, h := range headings {
			known[h] = true
		}
	}
	var zero T
	params, err := env.GetFieldParams(&zero)
	if err != nil {
		return []string{fmt.Sprintf("the env tags of %T: %v", zero, err)}
	}
	code := map[string]string{}
	for _, p := range params {
		code[p.Key] = p.DefaultValue
	}

	var problems []string
	documented := map[string]string{} // variable → default, from the tables of service
	found := map[string]bool{}        // headings of settings tables on the page
	heading, inTable := "", false
	for n, line := range strings.Split(page, "\n") {
		switch {
		case headingRe.MatchString(line):
			heading, inTable = headingRe.FindStringSubmatch(line)[1], false
		case headerRe.MatchString(line):
			if found[heading] {
				problems = append(problems, fmt.Sprintf("line %d: a second settings table under %q", n+1, heading))
			}
			found[heading], inTable = true, true
		case inTable && strings.HasPrefix(line, "|"):
			cells := strings.Split(line, "|")
			if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
				continue
			}
			if !slices.Contains(tables[service], heading) {
				continue
			}
			names := nameRe.FindAllStringSubmatch(cells[1], -1)
			if len(names) == 0 {
				problems = append(problems, fmt.Sprintf("line %d: a row without a variable in backticks", n+1))
			}
			def := strings.TrimSpace(cells[2])
			if def != "" {
				m := defaultRe.FindStringSubmatch(def)
				if m == nil {
					problems = append(problems, fmt.Sprintf("line %d: default %q is not one value in backticks", n+1, def))
					continue
				}
				def = m[1]
			}
			for _, name := range names {
				if _, twice := documented[name[1]]; twice {
					problems = append(problems, fmt.Sprintf("line %d: %s is documented twice", n+1, name[1]))
				}
				documented[name[1]] = def
			}
		default:
			inTable = false
		}
	}

	for _, h := range slices.Sorted(maps.Keys(found)) {
		if !known[h] {
			problems = append(problems, fmt.Sprintf("a settings table under %q, which no service's check reads: add it to envdoc.Tables", h))
		}
	}
	for _, h := range slices.Sorted(maps.Keys(known)) {
		if !found[h] {
			problems = append(problems, fmt.Sprintf("no settings table under a heading %q", h))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(code)) {
		def, ok := documented[k]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (default %q) is not on the page", k, code[k]))
		case def != code[k]:
			problems = append(problems, fmt.Sprintf("%s: the page says default %q, the code %q", k, def, code[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := code[k]; !ok {
			problems = append(problems, fmt.Sprintf("%s is on the page, but the code reads no such variable", k))
		}
	}
	return problems
}
