// Package assignment is the one home of which partitions a stats consumer
// owns, and of PARTITIONS_BY_ORDINAL, the format the chart writes, the
// partition controller rewrites and every consumer pod reads: one list of
// partitions per StatefulSet ordinal, ";" between ordinals, "," (or spaces)
// between partitions ("0,2;1,3": pod 0 owns 0 and 2, pod 1 owns 1 and 3).
// An ordinal past the list, or with an empty entry, owns nothing: a spare.
package assignment

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Assignment is, per ordinal, the sorted partitions that pod owns.
type Assignment [][]int32

// ParseByOrdinal reads PARTITIONS_BY_ORDINAL. The empty string is the empty
// assignment. No partition may be named twice.
func ParseByOrdinal(s string) (Assignment, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var a Assignment
	owner := map[int32]int{}
	for i, entry := range strings.Split(s, ";") {
		parts, err := parseList([]string{entry})
		if err != nil {
			return nil, fmt.Errorf("PARTITIONS_BY_ORDINAL %q, entry %d: %w", s, i, err)
		}
		for _, p := range parts {
			if j, dup := owner[p]; dup {
				return nil, fmt.Errorf("PARTITIONS_BY_ORDINAL %q gives partition %d to ordinals %d and %d", s, p, j, i)
			}
			owner[p] = i
		}
		a = append(a, parts)
	}
	return a.Trim(), nil
}

// String writes the form ParseByOrdinal reads: "0,2;1,3". An assignment
// in which nobody owns anything (a rebalance's step when no pod keeps any
// of its partitions) is ";", not "": every pod idles as a spare, where an
// empty PARTITIONS_BY_ORDINAL is a variable set but empty (exit 2).
func (a Assignment) String() string {
	if len(a.Trim()) == 0 {
		return ";"
	}
	entries := make([]string, len(a))
	for i, parts := range a {
		s := make([]string, len(parts))
		for j, p := range parts {
			s[j] = strconv.Itoa(int(p))
		}
		entries[i] = strings.Join(s, ",")
	}
	return strings.Join(entries, ";")
}

// Of returns the partitions of ordinal; none for a spare.
func (a Assignment) Of(ordinal int) []int32 {
	if ordinal < 0 || ordinal >= len(a) {
		return nil
	}
	return a[ordinal]
}

// Partitions returns every partition some ordinal owns, sorted.
func (a Assignment) Partitions() []int32 {
	var all []int32
	for _, parts := range a {
		all = append(all, parts...)
	}
	slices.Sort(all)
	return all
}

// Equal reports whether a and b give every ordinal the same partitions.
func (a Assignment) Equal(b Assignment) bool {
	return slices.EqualFunc(a.Trim(), b.Trim(), slices.Equal[[]int32])
}

// Trim drops trailing ordinals that own nothing: they mean the same.
func (a Assignment) Trim() Assignment {
	for len(a) > 0 && len(a[len(a)-1]) == 0 {
		a = a[:len(a)-1]
	}
	return a
}

// ParseList returns the sorted partitions named by args ("consumer 0 2", as
// the original), or by env (PARTITIONS="0,2") when there are no args. Each
// argument may itself be a list.
func ParseList(args []string, env string) ([]int32, error) {
	if len(args) == 0 {
		args = []string{env}
	}
	parts, err := parseList(args)
	if err == nil && len(parts) == 0 {
		err = errors.New("no partitions: give them as arguments (consumer 0 2) or PARTITIONS=0,2")
	}
	return parts, err
}

func parseList(args []string) ([]int32, error) {
	parts := []int32{}
	for _, arg := range args {
		for _, field := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
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

// Ordinal is a StatefulSet pod's ordinal: podIndex (POD_INDEX, from the
// downward API) if it is set (>= 0), else the number a StatefulSet puts at
// the end of its pods' host names (weather-consumer-2).
func Ordinal(podIndex int, host string) (int, error) {
	if podIndex >= 0 {
		return podIndex, nil
	}
	if i := strings.LastIndexByte(host, '-'); i >= 0 {
		if n, err := strconv.Atoi(host[i+1:]); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("PARTITIONS_BY_ORDINAL needs POD_INDEX or a StatefulSet host name ending in -N, not %q", host)
}
