// Package assignment reads which partitions a stats consumer owns: from its
// arguments ("consumer 0 2", as the original) or from PARTITIONS ("0,2").
package assignment

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Parse returns the sorted partitions named by args, or by env when there
// are no args. Each argument may itself be a comma-separated list.
func Parse(args []string, env string) ([]int32, error) {
	if len(args) == 0 {
		args = []string{env}
	}
	var parts []int32
	for _, arg := range args {
		for _, field := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.ParseInt(field, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("partition %q: want a number >= 0", field)
			}
			if slices.Contains(parts, int32(n)) {
				return nil, fmt.Errorf("partition %d named twice", n)
			}
			parts = append(parts, int32(n))
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("no partitions: give them as arguments (consumer 0 2) or PARTITIONS=0,2")
	}
	slices.Sort(parts)
	return parts, nil
}

// Check returns an error if a partition does not exist in a topic of n
// partitions.
func Check(parts []int32, topic string, n int) error {
	for _, p := range parts {
		if int(p) >= n {
			return fmt.Errorf("partition %d does not exist: topic %s has %d partitions", p, topic, n)
		}
	}
	return nil
}
