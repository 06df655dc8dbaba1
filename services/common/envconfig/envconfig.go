// Package envconfig parses a service's configuration from the environment
// with caarlos0/env, names the environment variable in every error (the
// library names the Go field, which a person setting LOCK_WAIT never sees),
// and gives the few checks every service's validation is made of.
package envconfig

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Load reads a T from the environment, then from the command line — the
// flags that flags defines on it (for the settings a person types) win over
// the environment — and validates it. It returns the arguments left after
// the flags. flags may be nil.
func Load[T any](name string, args []string, flags func(fs *flag.FlagSet, cfg *T), validate func(T) error) (T, []string, error) {
	cfg, err := Parse[T]()
	if err != nil {
		return cfg, nil, err
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if flags != nil {
		flags(fs, &cfg)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	return cfg, fs.Args(), validate(cfg)
}

// NoArgs is an error if a service that takes no arguments was given some.
func NoArgs(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	return nil
}

// Parse returns a T filled from the environment. A variable of T that is set
// but empty is an error: the library would quietly read it as unset (TOPIC=
// as its default "temperatures", KAFKA_TLS= as false), which is never what
// the person who set it meant.
func Parse[T any]() (T, error) {
	cfg, err := env.ParseAs[T]()
	var agg env.AggregateError
	if err != nil && !errors.As(err, &agg) {
		return cfg, err
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if key := envKey(reflect.TypeFor[T](), pe.Name); key != "" {
				msgs = append(msgs, fmt.Sprintf("%s: %v", key, pe.Err))
				continue
			}
		}
		msgs = append(msgs, e.Error())
	}
	for _, f := range setButEmpty[T]() {
		if f.HasDefaultValue {
			msgs = append(msgs, fmt.Sprintf("%s is set but empty: unset it for its default, or give it a value", f.Key))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s is set but empty: unset it, or give it a value", f.Key))
		}
	}
	if len(msgs) > 0 {
		return cfg, errors.New(strings.Join(msgs, "; "))
	}
	return cfg, nil
}

// envKey finds the env tag of the field called name, in t or its nested
// structs.
func envKey(t reflect.Type, name string) string {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == name {
			if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" {
				return key
			}
		}
		if f.Type.Kind() == reflect.Struct {
			if key := envKey(f.Type, name); key != "" {
				return key
			}
		}
	}
	return ""
}

// setButEmpty lists the variables of T, nested structs included, that are
// set to the empty string.
func setButEmpty[T any]() []env.FieldParams {
	var empty []env.FieldParams
	for _, f := range fieldParams[T]() {
		if v, set := os.LookupEnv(f.Key); set && v == "" {
			empty = append(empty, f)
		}
	}
	return empty
}

// fieldParams are the env tags of T's fields, nested structs included, as
// the library reads them.
func fieldParams[T any]() []env.FieldParams {
	var zero T
	params, err := env.GetFieldParams(&zero)
	if err != nil {
		panic(fmt.Sprintf("envconfig: the env tags of %T: %v", zero, err)) // a programming error, caught by any test of T
	}
	return params
}

// AtLeast is an error naming the variable key unless value >= low.
func AtLeast[T cmp.Ordered](key string, value, low T) error {
	if value < low {
		return fmt.Errorf("%s is %v: want at least %v", key, value, low)
	}
	return nil
}

// OneOf is an error naming the variable key unless value is one of allowed.
func OneOf(key, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fmt.Errorf("%s is %q: want %s", key, value, strings.Join(allowed, " or "))
}

// NotEmpty is an error naming the variable key if value is empty (a variable
// without a default that must be set).
func NotEmpty(key, value string) error {
	if value == "" {
		return fmt.Errorf("%s is empty: it must be set", key)
	}
	return nil
}

// Address is an error naming the variable key unless addr is a [host]:port
// to listen on: the port a number, 0 (any free port) to 65535. A bad port is
// then a setting's error (exit 2), not a failure to listen (exit 1).
func Address(key, addr string) error {
	if err := HostPort(addr, 0); err != nil {
		return fmt.Errorf("%s %q: %w", key, addr, err)
	}
	return nil
}

// HostPort is an error saying what is wanted unless addr is [host]:port with
// a numeric port from minPort to 65535: 0 to listen on (any free port), 1 to
// dial (nothing answers on 0). The caller names the variable, and for a list
// (KAFKA_BROKERS) the entry.
func HostPort(addr string, minPort uint64) error {
	_, port, err := net.SplitHostPort(addr)
	// A number only: net.Listen would also take a service name ("http")
	// from /etc/services, which a container may not have.
	n, nerr := strconv.ParseUint(port, 10, 16)
	if err != nil || nerr != nil || n < minPort {
		return fmt.Errorf("want [host]:port, the port a number from %d to 65535", minPort)
	}
	return nil
}

// Defaults returns every variable of T (nested structs included) that has a
// default, with it: what a program prints for tools that need to know its
// settings without reading its source.
func Defaults[T any]() map[string]string {
	out := map[string]string{}
	for _, f := range fieldParams[T]() {
		if f.HasDefaultValue {
			out[f.Key] = f.DefaultValue
		}
	}
	return out
}

// PrintDefaults writes Defaults[T], a KEY=value line each, sorted by key:
// what `<service> defaults` prints.
func PrintDefaults[T any](w io.Writer) error {
	defaults := Defaults[T]()
	for _, k := range slices.Sorted(maps.Keys(defaults)) {
		if _, err := fmt.Fprintf(w, "%s=%s\n", k, defaults[k]); err != nil {
			return err
		}
	}
	return nil
}

// AtMost is an error naming the variable key unless value <= high.
func AtMost[T cmp.Ordered](key string, value, high T) error {
	if value > high {
		return fmt.Errorf("%s is %v: want at most %v", key, value, high)
	}
	return nil
}
