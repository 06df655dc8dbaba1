// Package restart measures how fast the stats consumer recovers from
// SIGKILL: killed while it has a backlog to read and started again, from
// the new process's start to its first new checkpoint.
package restart

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/checkpointwatch"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/hack/bench/internal/service"
)

// Config is what the restarts need.
type Config struct {
	Restarts int    // SIGKILL/restart cycles
	Dir      string // the run directory
	Services *service.Binaries
	Kafka    *kafka.Admin
	Log      *progress.Log
}

// Measure SIGKILLs the stats consumer of topic while it has a backlog and
// restarts it, cfg.Restarts times, timing each restart to its first new
// checkpoint: the first file replaced after the restart, with a higher
// offset. It returns the restarts measured, even if it fails.
func Measure(ctx context.Context, cfg Config, topic string) ([]time.Duration, error) {
	ends, total, err := cfg.Kafka.SettledEnds(ctx, topic)
	if err != nil {
		return nil, err
	}
	r := &restarts{Config: cfg, topic: topic, dir: filepath.Join(cfg.Dir, "restart")}
	defer func() {
		if r.w != nil {
			r.w.Close()
		}
	}()
	c, err := r.fresh(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Stop(30 * time.Second) }()
	var took []time.Duration
	for i := 0; i < r.Restarts; i++ {
		time.Sleep(100 * time.Millisecond)
		if r.w.Poll(); r.w.CaughtUp(ends) {
			// No backlog left: start over from offset 0.
			r.Log.Printf("restart: the consumer is at the end; starting it over from empty checkpoints for a backlog")
			if err := c.Stop(30 * time.Second); err != nil {
				return took, err
			}
			if c, err = r.fresh(ctx); err != nil {
				return took, err
			}
		}
		c.Signal(syscall.SIGKILL)
		if err := c.Wait(10 * time.Second); err != nil {
			return took, err
		}
		time.Sleep(5 * time.Millisecond) // the last events of the dead process
		r.w.Scan()
		gens := r.w.Generations()
		offs, sum := r.w.Offsets()
		if c, err = r.start(); err != nil {
			return took, err
		}
		t, err := r.waitNew(ctx, c, gens, offs)
		if err != nil {
			return took, err
		}
		d := t.Sub(c.Started)
		took = append(took, d)
		r.Log.Printf("restart %d/%d: SIGKILLed at %s/%s offsets; first new checkpoint %s after the restart",
			i+1, r.Restarts, format.Count(sum), format.Count(total), d.Round(time.Millisecond))
	}
	if len(took) == 0 {
		return took, fmt.Errorf("no restart measured")
	}
	return took, nil
}

// restarts is one Measure: its consumers share a directory, watched by w.
type restarts struct {
	Config
	topic, dir string
	w          *checkpointwatch.Watch
}

// start starts a stats consumer of every partition.
func (r *restarts) start() (*process.Child, error) {
	return r.Services.StartConsumer("restart-consumer", kafka.Partitions, nil,
		"TOPIC="+r.topic, "DATA_DIR="+r.dir, "HTTP_ADDR="+process.FreeAddr(), "LOCK_WAIT=10s")
}

// waitNew waits until a file is replaced with a higher offset than offs.
func (r *restarts) waitNew(ctx context.Context, c *process.Child, gens map[int32]int, offs map[int32]int64) (time.Time, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if t, ok := r.w.NewSince(gens, offs); ok {
			return t, nil
		}
		if !c.Running() {
			return time.Time{}, c.ExitErr()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("no new checkpoint %s after the restart (log: %s)", time.Since(c.Started).Round(time.Second), c.Log)
		}
		time.Sleep(time.Millisecond)
	}
}

// fresh starts a consumer from empty checkpoints and waits for its first.
func (r *restarts) fresh(ctx context.Context) (*process.Child, error) {
	old, _ := filepath.Glob(filepath.Join(r.dir, "partition-*.json"))
	for _, f := range old {
		os.Remove(f)
	}
	if err := r.Kafka.ForgetSnapshots(ctx, r.topic); err != nil {
		return nil, err
	}
	if r.w != nil {
		r.w.Close()
	}
	var err error
	if r.w, err = checkpointwatch.New(r.dir, kafka.Partitions); err != nil {
		return nil, err
	}
	c, err := r.start()
	if err != nil {
		return nil, err
	}
	_, err = r.waitNew(ctx, c, map[int32]int{}, map[int32]int64{})
	return c, err
}
