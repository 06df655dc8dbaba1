package main

import (
	"fmt"
	"strings"
	"time"
)

// report is the campaign's one table.
type report struct {
	seed     uint64
	reports  int64
	brokers  int
	duration time.Duration
	faults   []done
	checks   []check
	facts    facts
	services []*Service
}

func (r report) passed() bool {
	for _, c := range r.checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// table is Markdown: the run, the faults by kind, the checks.
func (r report) table() string {
	var b strings.Builder
	row := func(a, c string) { fmt.Fprintf(&b, "| %s | %s |\n", a, c) }
	verdict := "**PASS**"
	if !r.passed() {
		verdict = "**FAIL**"
	}
	fmt.Fprintf(&b, "\n| Fault campaign | %s |\n|---|---|\n", verdict)
	row("seed", fmt.Sprintf("%d (`make chaos CHAOS_FLAGS='-seed %d'` replays the schedule)", r.seed, r.seed))
	row("cluster", fmt.Sprintf("%d brokers (KRaft), replication factor 3, min.insync.replicas 2, every connection through Toxiproxy", r.brokers))
	row("transaction.version", r.facts.TransactionVersion)
	row("reports", fmt.Sprintf("%d committed; %d records of aborted transactions and %d transaction markers in the log too",
		r.facts.Committed, r.facts.Aborted, r.facts.Markers))
	row("duration", r.duration.Truncate(time.Second).String())
	starts := make([]string, 0, len(r.services))
	for _, s := range r.services {
		starts = append(starts, fmt.Sprintf("%s %d (%d exits of its own)", s.Name, s.Starts(), len(s.OwnExits())))
	}
	row("process starts", strings.Join(starts, ", "))
	counts := map[Kind]int{}
	failed := 0
	for _, d := range r.faults {
		if d.Err != nil {
			failed++
			continue
		}
		counts[d.Kind]++
	}
	for _, w := range append(weights, struct {
		kind   Kind
		weight int
	}{CheckpointsLost, 0}) {
		if counts[w.kind] > 0 {
			row("fault: "+string(w.kind), fmt.Sprint(counts[w.kind]))
		}
	}
	total := fmt.Sprint(len(r.faults) - failed)
	if failed > 0 {
		total += fmt.Sprintf(" (and %d that could not be done)", failed)
	}
	row("**faults, all**", total)
	for _, c := range r.checks {
		res := "pass"
		if !c.OK {
			res = "**FAIL**"
		}
		if c.Detail != "" {
			res += ": " + strings.ReplaceAll(c.Detail, "|", "\\|")
		}
		row("check: "+c.Name, res)
	}
	return b.String()
}
