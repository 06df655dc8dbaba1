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

// Failover gives the partitions of the lost ordinals — pods on a node that
// stopped answering, which Kubernetes will not replace until the node is
// back or deleted — to the live ones (ordinals below replicas, not lost),
// each to the one that owns the fewest, ties to the lowest ordinal; live
// ordinals keep what they own, and a partition of the topic nobody owns is
// given out the same way. One step, without Next's handover: a lost pod
// cannot give anything up, and may even still run; a partition counted by
// two pods at once is still counted right by each (a state at an offset is
// a pure function of the log), so the worst is work done twice. With every
// ordinal lost there is nobody to give to: current is returned.
func Failover(current assignment.Assignment, lost map[int]bool, replicas, partitions int) assignment.Assignment {
	var live []int
	for i := range replicas {
		if !lost[i] {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return current
	}
	next := make(assignment.Assignment, replicas)
	owned := map[int32]bool{}
	for _, i := range live {
		for _, p := range current.Of(i) {
			if int(p) < partitions {
				next[i] = append(next[i], p)
				owned[p] = true
			}
		}
	}
	for p := range int32(partitions) {
		if owned[p] {
			continue
		}
		least := live[0]
		for _, i := range live[1:] {
			if len(next[i]) < len(next[least]) {
				least = i
			}
		}
		next[least] = append(next[least], p)
	}
	for i := range next {
		slices.Sort(next[i])
	}
	return next.Trim()
}
