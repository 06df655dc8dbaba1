// Package service runs the pipeline's binaries — the producer, the stats
// consumer, the dashboard — as the bench does: built into one directory,
// pointed at the run's broker, with the settings of the command line over
// their own defaults.
package service

import (
	"fmt"
	"os/exec"
	"strings"
)

// Env is the environment a service runs with in the bench: the variables
// given on the bench's command line (-producer-env, -consumer-env), over
// the service's own defaults, which the binary just built prints
// (`producer defaults`, `consumer defaults`). A baseline is given the same
// settings (the raw consume the consumer's fetch sizes, the raw produce the
// producer's linger and compression), so that it runs with the service's
// own options and not a copy of them that drifts.
type Env struct {
	Extra    []string          // K=V, from the command line
	defaults map[string]string // the binary's, read by Load
}

// NewEnv is the Env of the K=V given on the command line.
func NewEnv(extra []string) *Env { return &Env{Extra: extra} }

// Load asks the binary at bin for its defaults.
func (e *Env) Load(bin string) error {
	out, err := exec.Command(bin, "defaults").Output()
	if err != nil {
		return fmt.Errorf("%s defaults: %w", bin, err)
	}
	e.defaults = map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			e.defaults[k] = v
		}
	}
	return nil
}

// given is the value of key on the command line, if set there.
func (e *Env) given(key string) (string, bool) {
	for _, kv := range e.Extra {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Setting is the value key has in the service's runs: the command line's,
// else the default, else "" (the service has no such setting).
func (e *Env) Setting(key string) string {
	if v, ok := e.given(key); ok {
		return v
	}
	return e.defaults[key]
}
