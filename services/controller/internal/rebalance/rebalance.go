// Package rebalance decides which stats-consumer pod owns which partition,
// and how to get from one assignment to another without a partition ever
// being owned by two pods at once.
//
// An assignment is PARTITIONS_BY_ORDINAL, as package assignment reads and
// writes it.
package rebalance

import (
	"slices"

	"github.com/weatherstream/weather/services/common/assignment"
)

// Even gives partition p to ordinal p % replicas: every partition has exactly
// one owner, and ordinals past the partition count are spares.
func Even(replicas, partitions int) assignment.Assignment {
	a := make(assignment.Assignment, min(replicas, partitions))
	for p := range partitions {
		a[p%replicas] = append(a[p%replicas], int32(p))
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
func Next(current, desired assignment.Assignment) assignment.Assignment {
	keep := make(assignment.Assignment, len(desired))
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
	return keep.Trim()
}
