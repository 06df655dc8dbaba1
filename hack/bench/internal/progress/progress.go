// Package progress is what the bench says while it runs: lines on stderr,
// stamped with the time since its start, one block per measurement (a step),
// and the list of the steps that failed, for the table.
package progress

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Log prints the progress of one run and keeps its failures.
type Log struct {
	start    time.Time
	failures []string
}

// New is the log of a run that started at start.
func New(start time.Time) *Log { return &Log{start: start} }

// Printf prints a line to stderr, stamped with the time since the start.
func (l *Log) Printf(format string, args ...any) {
	d := time.Since(l.start).Round(time.Second)
	fmt.Fprintf(os.Stderr, "[%2d:%02d] %s\n", int(d.Minutes()), int(d.Seconds())%60, fmt.Sprintf(format, args...))
}

// Step runs one measurement, says how long it took, and records a failure.
// It reports whether fn succeeded.
func (l *Log) Step(name string, fn func() error) bool {
	l.Printf("== %s", name)
	t := time.Now()
	err := fn()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		l.failures = append(l.failures, fmt.Sprintf("%s: %v", name, err))
		l.Printf("%s FAILED: %v", name, err)
		return false
	}
	l.Printf("   %s done in %s", name, time.Since(t).Round(100*time.Millisecond))
	return true
}

// Failures are the steps that failed, "name: error", in order.
func (l *Log) Failures() []string { return l.failures }
