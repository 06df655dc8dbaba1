// Package rebalance decides which stats-consumer pod owns which partition,
// and how to get from one assignment to another without a partition ever
// being owned by two pods at once.
//
// An assignment is written as the consumer reads PARTITIONS_BY_ORDINAL: one
// list of partitions per StatefulSet ordinal, separated by ";" ("0,2;1,3").
package rebalance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Assignment is, per ordinal, the sorted partitions that pod owns.
type Assignment [][]int32

// Even gives partition p to ordinal p % replicas: every partition has exactly
// one owner, and ordinals past the partition count are spares.
func Even(replicas, partitions int) Assignment {
	a := make(Assignment, min(replicas, partitions))
	for p := range partitions {
		a[p%replicas] = append(a[p%replicas], int32(p))
	}
	return a
}

// Parse reads "0,2;1,3". The empty string is the empty assignment.
func Parse(s string) (Assignment, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var a Assignment
	owner := map[int32]int{}
	for i, entry := range strings.Split(s, ";") {
		var parts []int32
		for _, f := range strings.Split(entry, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("assignment %q: partition %q", s, f)
			}
			if j, dup := owner[int32(n)]; dup {
				return nil, fmt.Errorf("assignment %q gives partition %d to ordinals %d and %d", s, n, j, i)
			}
			owner[int32(n)] = i
			parts = append(parts, int32(n))
		}
		slices.Sort(parts)
		a = append(a, parts)
	}
	return a.trim(), nil
}

// String writes the form Parse reads.
func (a Assignment) String() string {
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

// Equal reports whether a and b give every ordinal the same partitions.
func (a Assignment) Equal(b Assignment) bool {
	return slices.EqualFunc(a.trim(), b.trim(), slices.Equal[[]int32])
}

// trim drops trailing ordinals that own nothing: they mean the same.
func (a Assignment) trim() Assignment {
	for len(a) > 0 && len(a[len(a)-1]) == 0 {
		a = a[:len(a)-1]
	}
	return a
}

// Next is the assignment to roll out after current on the way to desired.
//
// Pods of a rolling update run the old and the new assignment side by side,
// so two consecutive assignments must never give one partition to two
// different ordinals. Next gets there in at most two steps: first every pod
// keeps only what it keeps in desired (it only gives up partitions), then,
// once that has rolled out, desired (pods only take partitions nobody owns).
func Next(current, desired Assignment) Assignment {
	keep := make(Assignment, len(desired))
	for i := range desired {
		if i < len(current) {
			for _, p := range current[i] {
				if slices.Contains(desired[i], p) {
					keep[i] = append(keep[i], p)
				}
			}
		}
	}
	if keep.Equal(current) {
		return desired
	}
	return keep.trim()
}
