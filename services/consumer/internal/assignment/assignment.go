// Package assignment reads which partitions a stats consumer owns: from its
// arguments ("consumer 0 2", as the original), from PARTITIONS ("0,2"), or,
// for a pod of a StatefulSet, from its ordinal's entry in
// PARTITIONS_BY_ORDINAL ("0,2;1,3": pod 0 owns 0 and 2, pod 1 owns 1 and 3).
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
	parts, err := parseList(args)
	if err == nil && len(parts) == 0 {
		err = errors.New("no partitions: give them as arguments (consumer 0 2) or PARTITIONS=0,2")
	}
	return parts, err
}

// ForOrdinal returns the partitions of pod ordinal in byOrdinal, a list of
// partition lists separated by ";" ("0,2;1,3"). An ordinal past the list, or
// with an empty entry, owns nothing: the pod idles, ready, as a spare.
// The lists must not share a partition.
func ForOrdinal(byOrdinal string, ordinal int) ([]int32, error) {
	if ordinal < 0 {
		return nil, fmt.Errorf("pod ordinal %d < 0", ordinal)
	}
	var mine []int32
	seen := map[int32]int{}
	for i, entry := range strings.Split(byOrdinal, ";") {
		parts, err := parseList([]string{entry})
		if err != nil {
			return nil, fmt.Errorf("PARTITIONS_BY_ORDINAL entry %d: %w", i, err)
		}
		for _, p := range parts {
			if j, dup := seen[p]; dup {
				return nil, fmt.Errorf("PARTITIONS_BY_ORDINAL gives partition %d to ordinals %d and %d", p, j, i)
			}
			seen[p] = i
		}
		if i == ordinal {
			mine = parts
		}
	}
	return mine, nil
}

func parseList(args []string) ([]int32, error) {
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
