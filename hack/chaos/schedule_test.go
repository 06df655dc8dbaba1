package main

import (
	"reflect"
	"testing"
	"time"
)

func TestPlanIsTheSeedsAndHasEveryKind(t *testing.T) {
	all := func(Kind) bool { return true }
	for _, c := range []struct {
		name      string
		d         time.Duration
		possible  func(Kind) bool
		minFaults int
	}{
		{"the full campaign", 5 * time.Minute, all, 50},
		{"the short one", 2 * time.Minute, all, 15},
		{"without a tmpfs", 5 * time.Minute, func(k Kind) bool { return k != DiskFull }, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				plan := Plan(seed, c.d, c.possible)
				if again := Plan(seed, c.d, c.possible); !reflect.DeepEqual(plan, again) {
					t.Fatalf("seed %d: two plans differ", seed)
				}
				if len(plan) < c.minFaults {
					t.Errorf("seed %d: %d faults in %s, want >= %d", seed, len(plan), c.d, c.minFaults)
				}
				lost := 0
				for i, f := range plan {
					if !c.possible(f.Kind) {
						t.Errorf("seed %d: %s planned, not possible", seed, f.Kind)
					}
					if f.Kind == CheckpointsLost {
						lost++
					}
					if i > 0 && f.At < plan[i-1].At+plan[i-1].For {
						t.Errorf("seed %d: fault %d at %s begins before fault %d ends", seed, i, f.At, i-1)
					}
					if f.At >= c.d || f.For < time.Second || f.For > 6*time.Second {
						t.Errorf("seed %d: fault %v out of bounds", seed, f)
					}
				}
				if lost != 1 {
					t.Errorf("seed %d: the checkpoint directory deleted %d times, want once", seed, lost)
				}
			}
			if reflect.DeepEqual(Plan(1, c.d, c.possible), Plan(2, c.d, c.possible)) {
				t.Error("seeds 1 and 2 give one plan")
			}
		})
	}
	// Over many seeds every kind comes up.
	seen := map[Kind]bool{}
	for seed := uint64(1); seed <= 50; seed++ {
		for _, f := range Plan(seed, 5*time.Minute, all) {
			seen[f.Kind] = true
		}
	}
	for _, w := range weights {
		if !seen[w.kind] {
			t.Errorf("%s never planned in 50 seeds", w.kind)
		}
	}
}
