package consumers

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/checkpointwatch"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/metrics"
	"github.com/weatherstream/weather/hack/bench/internal/process"
)

// stats runs `consumer 0 1 2 3` from empty checkpoints until every
// checkpoint file holds its partition's end offset.
func (m *measurement) stats(ctx context.Context, topic string) error {
	ends, total, err := m.Kafka.SettledEnds(ctx, topic)
	if err != nil {
		return err
	}
	m.offsets = total
	// A directory of its own, and no snapshot to restore from: every run
	// starts from offset 0.
	if err := m.Kafka.ForgetSnapshots(ctx, topic); err != nil {
		return err
	}
	dir := filepath.Join(m.Dir, fmt.Sprintf("stats-consumer-%d", time.Now().UnixNano()))
	addr := process.FreeAddr()
	c, err := m.Services.StartConsumer("stats-consumer", kafka.Partitions, nil, "TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Stop(30 * time.Second) }()
	m.Log.Printf("stats consumer: %s offsets in 4 partitions, checkpoint with fsync per batch into %s", format.Count(total), dir)
	w, err := checkpointwatch.New(dir, kafka.Partitions)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := m.awaitEnd(ctx, c, w, ends, total); err != nil {
		return err
	}
	done := w.ReachedAt(ends)
	first, firstSum := w.First()
	peak := c.PeakRSS() // of the pass, not of the shutdown
	hist, herr := metrics.Scrape("http://"+addr+"/metrics", "weather_consumer_checkpoint_write_seconds")
	if err := c.Stop(30 * time.Second); err != nil {
		return err
	}
	if err := c.ExitErr(); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	m.statsDir = dir
	r := Run{Wall: done.Sub(c.Started), RSS: peak, CPU: c.CPU()}
	r.WallRate = m.reports(total) / r.Wall.Seconds()
	r.PerSec = m.window(total, firstSum, done.Sub(first), r.WallRate)
	r.CkptP50, r.CkptP99 = hist.Quantile(0.5), hist.Quantile(0.99)
	r.CkptMean, r.CkptCount = hist.Mean(), int64(hist.Count)
	m.res.Stats = append(m.res.Stats, r)
	m.res.Checkpoints = m.res.Checkpoints.Merge(hist)
	m.Log.Printf("stats consumer: %.0f reports/s (%.0f/s incl. start-up), peak RSS %.1f MiB, %d checkpoints, write p50 %s p99 %s",
		r.PerSec, r.WallRate, format.MiB(r.RSS), r.CkptCount, format.Ms(r.CkptP50), format.Ms(r.CkptP99))
	return nil
}

// awaitEnd waits, for at most 10 minutes, until every file of w holds its
// partition's end, saying how far the consumer c is every 2 s.
func (m *measurement) awaitEnd(ctx context.Context, c *process.Child, w *checkpointwatch.Watch, ends map[int32]int64, total int64) error {
	var (
		nextReport = time.Now().Add(2 * time.Second)
		deadline   = time.Now().Add(10 * time.Minute)
	)
	for {
		w.Poll()
		now := time.Now()
		if w.CaughtUp(ends) {
			return nil
		}
		if !c.Running() {
			return c.ExitErr()
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stats consumer not at the end after %s: %w", now.Sub(c.Started).Round(time.Second), err)
		}
		if now.After(deadline) {
			return fmt.Errorf("stats consumer not at the end after %s", now.Sub(c.Started).Round(time.Second))
		}
		if now.After(nextReport) {
			_, sum := w.Offsets()
			m.Log.Printf("stats consumer: %s/%s offsets in the files, %.0f/s, RSS %.1f MiB (peak %.1f)",
				format.Count(sum), format.Count(total), float64(sum)/now.Sub(c.Started).Seconds(), format.MiB(c.RSS()), format.MiB(c.PeakRSS()))
			nextReport = now.Add(2 * time.Second)
		}
		time.Sleep(time.Millisecond)
	}
}
