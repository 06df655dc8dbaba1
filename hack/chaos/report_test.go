package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTableHasTheSeedTheFaultsAndEveryCheck(t *testing.T) {
	r := report{seed: 42, reports: 1000, brokers: 3, duration: 90 * time.Second,
		faults: []done{
			{Fault: Fault{Kind: KillLeader}}, {Fault: Fault{Kind: KillLeader}}, {Fault: Fault{Kind: CheckpointsLost}},
			{Fault: Fault{Kind: BlackHole}, Err: errors.New("proxy gone")},
		},
		checks: []check{{Name: "files = recount", OK: true}, {Name: "stream once", OK: false, Detail: "a | b"}},
		facts:  facts{Committed: 1000, Aborted: 20, Markers: 40, TransactionVersion: "2"},
	}
	table := r.table()
	for _, want := range []string{
		"| Fault campaign | **FAIL** |", "-seed 42", "| transaction.version | 2 |",
		"| fault: " + string(KillLeader) + " | 2 |", "| fault: " + string(CheckpointsLost) + " | 1 |",
		"| **faults, all** | 3 (and 1 that could not be done) |",
		"| check: files = recount | pass |", "| check: stream once | **FAIL**: a \\| b |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("no %q in\n%s", want, table)
		}
	}
	if r.passed() {
		t.Error("a failed check passed the run")
	}
	r.checks[1].OK = true
	if !r.passed() || !strings.Contains(r.table(), "| Fault campaign | **PASS** |") {
		t.Error("all checks passed, the run did not")
	}
}
