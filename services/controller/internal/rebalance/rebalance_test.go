package rebalance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weatherstream/weather/services/common/assignment"
)

func TestEven(t *testing.T) {
	tests := []struct {
		replicas, partitions int
		want                 string
	}{
		{1, 4, "0,1,2,3"},
		{2, 4, "0,2;1,3"},
		{3, 4, "0,3;1;2"},
		{4, 4, "0;1;2;3"},
		{6, 4, "0;1;2;3"}, // ordinals 4 and 5 are spares
		{2, 5, "0,2,4;1,3"},
	}
	for _, tt := range tests {
		if got := Even(tt.replicas, tt.partitions).String(); got != tt.want {
			t.Errorf("Even(%d, %d) = %q, want %q", tt.replicas, tt.partitions, got, tt.want)
		}
	}
}

func TestNextTakesAtMostTwoSteps(t *testing.T) {
	tests := []struct {
		current, desired string
		steps            []string
	}{
		{"0,2;1,3", "0,2;1,3", nil},
		{"0,2;1,3", "0,3;1;2", []string{"0;1", "0,3;1;2"}}, // scale 2 -> 3
		{"0,3;1;2", "0,1,2,3", []string{"0,3", "0,1,2,3"}}, // scale 3 -> 1
		{"0,1,2,3", "0,2;1,3", []string{"0,2", "0,2;1,3"}}, // scale 1 -> 2
		{"", "0,2;1,3", []string{"0,2;1,3"}},               // nothing owned yet
		{"0,2;1,3", "0,2,4;1,3", []string{"0,2,4;1,3"}},    // a partition added to the topic
		{"0;1;2;3", "0,1,2,3", []string{"0", "0,1,2,3"}},   // scale 4 -> 1
		{"0,1,2,3", "0;1;2;3", []string{"0", "0;1;2;3"}},   // scale 1 -> 4
		{"0,2;1,3", "0,1,2,3", []string{"0,2", "0,1,2,3"}}, // scale 2 -> 1
		{"1,3;0,2", "0,2;1,3", []string{";", "0,2;1,3"}},   // everything moves: all spares first
		{"0,2;1,3;;", "0,2;1,3", nil},                      // trailing spares are nothing
	}
	for _, tt := range tests {
		cur, _ := assignment.ParseByOrdinal(tt.current)
		want, _ := assignment.ParseByOrdinal(tt.desired)
		var got []string
		for i := 0; !cur.Equal(want); i++ {
			if i == 3 {
				t.Fatalf("%s -> %s: no convergence: %v", tt.current, tt.desired, got)
			}
			cur = Next(cur, want)
			got = append(got, cur.String())
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.steps) {
			t.Errorf("%s -> %s: steps %q, want %q", tt.current, tt.desired, got, tt.steps)
		}
	}
}

// The safety property, over random scalings and partition growth: any two
// consecutive assignments give each partition to at most one ordinal, so the
// old and new pods of a rolling update never share a partition; and the last
// one covers every partition exactly once.
func TestNextNeverGivesAPartitionToTwoOrdinals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		partitions := 1 + rng.IntN(12)
		cur := Even(1+rng.IntN(8), partitions)
		for change := 0; change < 5; change++ {
			partitions += rng.IntN(2) // topics only grow
			desired := Even(1+rng.IntN(8), partitions)
			for step := 0; !cur.Equal(desired); step++ {
				if step == 2 {
					t.Fatalf("trial %d: %s -> %s takes more than two steps", trial, cur, desired)
				}
				next := Next(cur, desired)
				// What the consumers read: never a variable set empty.
				if again, err := assignment.ParseByOrdinal(next.String()); next.String() == "" || err != nil || !again.Equal(next) {
					t.Fatalf("trial %d: step %s is written %q, which a consumer does not read back (%v)", trial, next, next.String(), err)
				}
				owner := map[int32]int{}
				for _, a := range []assignment.Assignment{cur, next} {
					for ord, parts := range a {
						for _, p := range parts {
							if o, ok := owner[p]; ok && o != ord {
								t.Fatalf("trial %d: %s then %s gives partition %d to ordinals %d and %d", trial, cur, next, p, o, ord)
							}
							owner[p] = ord
						}
					}
				}
				cur = next
			}
			covered := map[int32]int{}
			for _, parts := range cur {
				for _, p := range parts {
					covered[p]++
				}
			}
			for p := range int32(partitions) {
				if covered[p] != 1 {
					t.Fatalf("trial %d: partition %d owned %d times in %s", trial, p, covered[p], cur)
				}
			}
		}
	}
}

func TestFailoverGivesTheLostOrdinalsPartitionsToTheLiveOnes(t *testing.T) {
	for _, tt := range []struct {
		current              string
		lost                 []int
		replicas, partitions int
		want                 string
	}{
		{"0,2;1,3", []int{1}, 2, 4, "0,1,2,3"},      // one of two nodes gone
		{"0,2;1,3", []int{0}, 2, 4, ";0,1,2,3"},     // the other
		{"0,3;1;2", []int{2}, 3, 4, "0,3;1,2"},      // to the one with the fewest
		{"0;1;2;3", []int{1, 2}, 4, 4, "0,1;;;2,3"}, // two gone: one each
		{"0,2;1,3", nil, 2, 4, "0,2;1,3"},           // none lost: as it is
		{"0,2;1,3", []int{0, 1}, 2, 4, "0,2;1,3"},   // all lost: nobody to give to
		{"0,2;1,3", []int{1}, 2, 6, "0,1,2,3,4,5"},  // partitions added meanwhile
		{"0,4;1,3;2", []int{2}, 3, 5, "0,2,4;1,3"},  // ties go to the lowest ordinal
		{"0,2;1,3;;", []int{3}, 4, 4, "0,2;1,3"},    // a spare lost: nothing moves
	} {
		cur, _ := assignment.ParseByOrdinal(tt.current)
		lost := map[int]bool{}
		for _, i := range tt.lost {
			lost[i] = true
		}
		if got := Failover(cur, lost, tt.replicas, tt.partitions).String(); got != tt.want {
			t.Errorf("Failover(%s, lost %v) = %s, want %s", tt.current, tt.lost, got, tt.want)
		}
	}
}

// Over random assignments and losses: every partition has exactly one
// owner, none of them lost; a live ordinal keeps everything it owned.
func TestFailoverKeepsLiveOwnersAndCoversEveryPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 2000 {
		replicas, partitions := 1+rng.IntN(8), 1+rng.IntN(16)
		cur := Even(replicas, partitions)
		lost := map[int]bool{}
		for i := range replicas {
			lost[i] = rng.IntN(3) == 0
		}
		live := 0
		for i := range replicas {
			if !lost[i] {
				live++
			}
		}
		next := Failover(cur, lost, replicas, partitions)
		if live == 0 {
			if !next.Equal(cur) {
				t.Fatalf("trial %d: all lost, %s became %s", trial, cur, next)
			}
			continue
		}
		owners := map[int32]int{}
		for i, parts := range next {
			for _, p := range parts {
				if lost[i] {
					t.Fatalf("trial %d: lost ordinal %d owns %d in %s", trial, i, p, next)
				}
				owners[p]++
			}
		}
		for p := range int32(partitions) {
			if owners[p] != 1 {
				t.Fatalf("trial %d: partition %d has %d owners in %s", trial, p, owners[p], next)
			}
		}
		for i, parts := range cur {
			for _, p := range parts {
				if !lost[i] && !slices.Contains(next.Of(i), p) {
					t.Fatalf("trial %d: live ordinal %d lost partition %d: %s -> %s", trial, i, p, cur, next)
				}
			}
		}
	}
}
