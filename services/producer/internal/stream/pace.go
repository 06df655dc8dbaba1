package stream

import (
	"context"
	"time"
)

// pacer paces the reports by schedule: report k of a run is due at start +
// k*interval, and each wake-up produces every report that is due. (One
// report per tick of a time.Ticker caps the pace near 1000/s: a ticker fires
// at most about once per millisecond and drops the ticks it cannot deliver.)
type pacer struct {
	interval time.Duration // 0: as fast as possible
	ticker   *time.Ticker  // nil without an interval
	start    time.Time
	sent     int64 // reports produced since start
}

func newPacer(interval time.Duration) pacer {
	p := pacer{interval: interval, start: time.Now()}
	if interval > 0 {
		p.ticker = time.NewTicker(max(interval, time.Millisecond))
	}
	return p
}

// wait waits for the next tick (or for ctx) if the next report is not due
// yet, and reports whether it waited: then what is due is to be looked at
// again.
func (p *pacer) wait(ctx context.Context) bool {
	if p.ticker == nil || p.sent <= int64(time.Since(p.start)/p.interval) {
		return false
	}
	select {
	case <-ctx.Done():
	case <-p.ticker.C:
	}
	return true
}

func (p *pacer) stop() {
	if p.ticker != nil {
		p.ticker.Stop()
	}
}
