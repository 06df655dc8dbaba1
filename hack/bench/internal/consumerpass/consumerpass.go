// Package consumerpass is a stats consumer's pass — or several consumer
// processes' together — over a topic of its own, from offset 0 to the end,
// on the run's broker, and a consumer's start-up over files already caught
// up: what the scaling series and the snapshots' measurement are made of.
package consumerpass

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/checkpointwatch"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/metrics"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/service"
)

// Config is what the passes need.
type Config struct {
	Records  int64  // reports of each topic
	Reps     int    // passes of each point (Median)
	Dir      string // the run directory
	Services *service.Binaries
	Kafka    *kafka.Admin
}

// Point is one point of a series: a pass.
type Point struct {
	X          int           // partitions, consumer processes or stations
	PerSec     float64       // reports/s, all processes together
	CkptPerSec float64       // checkpoint writes/s, all processes together
	CkptMean   time.Duration // one checkpoint write (one batch: all its partitions' files)
	FileBytes  int64         // one partition file, on average
	Restart    time.Duration // start over caught-up files to consuming
	CPU        time.Duration // all processes
	Took       time.Duration // the pass, from the first process's start to the end
}

// Topic produces a topic of cfg.Records reports of stations stations into
// partitions partitions, with the producer binary.
func Topic(ctx context.Context, cfg Config, partitions, stations int) (string, error) {
	topic := fmt.Sprintf("bench-scale-p%d-s%d-%d", partitions, stations, time.Now().Unix())
	c, err := cfg.Services.StartProducer("scale-producer", "TOPIC="+topic, "COUNT="+strconv.FormatInt(cfg.Records, 10), "INTERVAL=0",
		"STATIONS="+strconv.Itoa(stations), "TOPIC_PARTITIONS="+strconv.Itoa(partitions), "HTTP_ADDR="+process.FreeAddr(),
		"TRANSACTIONAL_ID=bench-"+topic)
	if err != nil {
		return "", err
	}
	if err := c.Follow(ctx, 0, 10*time.Minute, nil); err != nil {
		return "", err
	}
	return topic, c.ExitErr()
}

// Pass runs procs stats consumers over all of topic's partitions (dealt out
// round-robin), sharing one data directory, until every file holds its
// partition's end offset, the variables env given to each. It returns the
// point and the directory.
func Pass(ctx context.Context, cfg Config, name, topic string, procs int, env ...string) (Point, string, error) {
	ends, total, err := cfg.Kafka.SettledEnds(ctx, topic)
	if err != nil {
		return Point{}, "", err
	}
	if err := cfg.Kafka.ForgetSnapshots(ctx, topic); err != nil { // from offset 0, not from the last pass's snapshots
		return Point{}, "", err
	}
	parts := slices.Sorted(maps.Keys(ends))
	dir := filepath.Join(cfg.Dir, fmt.Sprintf("%s-%d", name, time.Now().UnixNano()))
	w, err := checkpointwatch.New(dir, parts)
	if err != nil {
		return Point{}, "", err
	}
	defer w.Close()
	var cs []*process.Child
	defer func() {
		for _, c := range cs {
			_ = c.Stop(30 * time.Second)
		}
	}()
	cs, addrs, err := start(cfg, name, topic, dir, parts, procs, env)
	if err != nil {
		return Point{}, "", err
	}
	began := cs[0].Started
	if err := awaitEnd(ctx, name, w, ends, cs); err != nil {
		return Point{}, "", err
	}
	done := w.ReachedAt(ends)
	first, firstSum := w.First()
	pt, writes, writeSum, err := stop(cs, addrs)
	if err != nil {
		return pt, "", err
	}
	cs = nil
	d := done.Sub(first).Seconds()
	if d <= 0 || firstSum*2 > total {
		d, firstSum = done.Sub(first.Add(-time.Nanosecond)).Seconds(), 0 // one batch held most of it: the rate includes start-up
	}
	pt.PerSec = float64(cfg.Records) * float64(total-firstSum) / float64(total) / d
	pt.CkptPerSec = writes / d
	if writes > 0 {
		pt.CkptMean = time.Duration(writeSum / writes * 1e9)
	}
	var size int64
	for _, p := range parts {
		if fi, err := os.Stat(w.Path(p)); err == nil {
			size += fi.Size()
		}
	}
	pt.FileBytes = size / int64(len(parts))
	pt.Took = done.Sub(began)
	return pt, dir, nil
}

// start starts procs stats consumers of parts, dealt out round-robin, in
// dir, and returns them (those started, on an error) and their HTTP
// addresses.
func start(cfg Config, name, topic, dir string, parts []int32, procs int, env []string) ([]*process.Child, []string, error) {
	var cs []*process.Child
	var addrs []string
	for i := range procs {
		var mine []int32
		for j, p := range parts {
			if j%procs == i {
				mine = append(mine, p)
			}
		}
		addr := process.FreeAddr()
		c, err := cfg.Services.StartConsumer(name, mine, nil, append([]string{"TOPIC=" + topic, "DATA_DIR=" + dir, "HTTP_ADDR=" + addr}, env...)...)
		if err != nil {
			return cs, addrs, err
		}
		cs, addrs = append(cs, c), append(addrs, addr)
	}
	return cs, addrs, nil
}

// awaitEnd waits, for at most 10 minutes, until every file of w holds its
// partition's end, and fails at once if a consumer exits.
func awaitEnd(ctx context.Context, name string, w *checkpointwatch.Watch, ends map[int32]int64, cs []*process.Child) error {
	for deadline := time.Now().Add(10 * time.Minute); !w.CaughtUp(ends); time.Sleep(time.Millisecond) {
		w.Poll()
		for _, c := range cs {
			if !c.Running() {
				return c.ExitErr()
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("%s: not at the end after %s", name, time.Since(cs[0].Started).Round(time.Second))
		}
	}
	return nil
}

// stop reads each consumer's checkpoint writes, then stops it; it returns
// the point with their CPU, and their writes and the writes' time, in s.
func stop(cs []*process.Child, addrs []string) (pt Point, writes, writeSum float64, err error) {
	for i, c := range cs {
		h, err := metrics.Scrape("http://"+addrs[i]+"/metrics", "weather_consumer_checkpoint_write_seconds")
		if err != nil {
			return pt, 0, 0, err
		}
		writes, writeSum = writes+h.Count, writeSum+h.Sum
		if err := c.Stop(30 * time.Second); err != nil {
			return pt, 0, 0, err
		}
		if err := c.ExitErr(); err != nil {
			return pt, 0, 0, err
		}
		pt.CPU += c.CPU()
	}
	return pt, writes, writeSum, nil
}

// Median is the Pass of median rate among cfg.Reps (its data directory
// with it).
func Median(ctx context.Context, cfg Config, name, topic string, procs int) (Point, string, error) {
	type run struct {
		pt  Point
		dir string
	}
	var runs []run
	for range max(1, cfg.Reps) {
		pt, dir, err := Pass(ctx, cfg, name, topic, procs)
		if err != nil {
			return pt, dir, err
		}
		runs = append(runs, run{pt, dir})
	}
	slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.pt.PerSec, b.pt.PerSec) })
	m := runs[len(runs)/2]
	return m.pt, m.dir, nil
}

// StartUp starts a stats consumer of partitions 0 to parts-1 over dir's
// caught-up files and returns how long it took to be consuming: connect,
// lock, load and check every checkpoint, list the offsets.
func StartUp(ctx context.Context, cfg Config, topic, dir string, parts int) (time.Duration, error) {
	partitions := make([]int32, 0, parts)
	for p := range parts {
		partitions = append(partitions, int32(p))
	}
	ready := make(chan time.Time, 1)
	c, err := cfg.Services.StartConsumer("scale-start", partitions, func(stream, line string) {
		if stream == "stderr" && strings.Contains(line, "msg=consuming") {
			select {
			case ready <- time.Now():
			default:
			}
		}
	}, "TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+process.FreeAddr())
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Stop(30 * time.Second) }()
	select {
	case t := <-ready:
		return t.Sub(c.Started), nil
	case <-c.Done():
		return 0, fmt.Errorf("consumer exited: %w (log: %s)", c.ExitErr(), c.Log)
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("consumer not consuming after a minute (log: %s)", c.Log)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
