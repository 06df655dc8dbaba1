package stream

import (
	"context"
	"testing"
	"time"
)

// The pacer waits only while the next report is not due: report k of a run
// is due k intervals after its start.
func TestPacerWaitsUntilTheNextReportIsDue(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel() // a wait returns at once, saying it waited
	tests := []struct {
		name     string
		interval time.Duration
		sent     int64
		since    time.Duration // the run's start, this long ago
		want     bool
	}{
		{"no interval", 0, 1000, 0, false},
		{"the first report", time.Hour, 0, 0, false},
		{"the second, an interval early", time.Hour, 1, 0, true},
		{"the second, on time", time.Hour, 1, time.Hour, false},
		{"behind the schedule: no wait", time.Minute, 3, time.Hour, false},
		{"ahead of the schedule", time.Minute, 61, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(tt.interval)
			defer p.stop()
			p.start, p.sent = time.Now().Add(-tt.since), tt.sent
			if got := p.wait(done); got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
		})
	}
}
