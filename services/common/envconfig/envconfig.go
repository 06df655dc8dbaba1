// Package envconfig parses a service's configuration from the environment
// with caarlos0/env, and names the environment variable in a parse error (the
// library names the Go field, which a person setting LOCK_WAIT never sees).
package envconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Parse returns a T filled from the environment.
func Parse[T any]() (T, error) {
	cfg, err := env.ParseAs[T]()
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return cfg, err
	}
	msgs := make([]string, 0, len(agg.Errors))
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
	return cfg, errors.New(strings.Join(msgs, "; "))
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
