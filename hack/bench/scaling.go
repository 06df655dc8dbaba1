package main

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
)

// How cost grows: more partitions for one consumer, more consumer processes
// over one topic, more stations (bigger checkpoints). Each point is one
// stats consumer pass (or several processes' together) over a topic of its
// own, from offset 0 to the end, on the run's broker.

// scalePoint is one point of a scaling series.
type scalePoint struct {
	x          int           // partitions, consumer processes or stations
	perSec     float64       // reports/s, all processes together
	ckptPerSec float64       // checkpoint writes/s, all processes together
	ckptMean   time.Duration // one checkpoint write (one batch: all its partitions' files)
	fileBytes  int64         // one partition file, on average
	restart    time.Duration // start over caught-up files to consuming
	cpu        time.Duration // all processes
	took       time.Duration // the pass, from the first process's start to the end
}

// scaling holds the three series.
type scaling struct {
	records                       int64
	reps                          int
	partitions, procs, stations   []scalePoint
	partStations, procsPartitions int // the stations of the partition series, the partitions of the process one
}

// scalingTopic produces a topic of b.scaleRecords reports of stations stations
// into partitions partitions, with the producer binary.
func (b *bench) scalingTopic(ctx context.Context, partitions, stations int) (string, error) {
	topic := fmt.Sprintf("bench-scale-p%d-s%d-%d", partitions, stations, time.Now().Unix())
	c, err := b.spawn("scale-producer", b.producerEnvs("TOPIC="+topic, "COUNT="+strconv.FormatInt(b.scaleRecords, 10), "INTERVAL=0",
		"STATIONS="+strconv.Itoa(stations), "TOPIC_PARTITIONS="+strconv.Itoa(partitions), "HTTP_ADDR="+freeAddr(),
		"TRANSACTIONAL_ID=bench-"+topic), nil, b.bin("producer"))
	if err != nil {
		return "", err
	}
	if err := b.follow(ctx, c, 0, 10*time.Minute, nil); err != nil {
		return "", err
	}
	return topic, c.exitErr()
}

// pass runs procs stats consumers over all of topic's partitions (dealt out
// round-robin), sharing one data directory, until every file holds its
// partition's end offset.
func (b *bench) pass(ctx context.Context, name, topic string, procs int, env ...string) (scalePoint, string, error) {
	ends, total, err := b.settledEnds(ctx, topic)
	if err != nil {
		return scalePoint{}, "", err
	}
	if err := b.forgetSnapshots(ctx, topic); err != nil { // from offset 0, not from the last pass's snapshots
		return scalePoint{}, "", err
	}
	parts := slices.Sorted(maps.Keys(ends))
	dir := filepath.Join(b.runDir, fmt.Sprintf("%s-%d", name, time.Now().UnixNano()))
	w, err := newWatch(dir, parts)
	if err != nil {
		return scalePoint{}, "", err
	}
	defer w.close()
	var cs []*child
	var addrs []string
	defer func() {
		for _, c := range cs {
			_ = c.stop(30 * time.Second)
		}
	}()
	for i := range procs {
		var mine []string
		for j, p := range parts {
			if j%procs == i {
				mine = append(mine, strconv.Itoa(int(p)))
			}
		}
		addr := freeAddr()
		c, err := b.spawn(name, b.consumerEnvs(append([]string{"TOPIC=" + topic, "DATA_DIR=" + dir, "HTTP_ADDR=" + addr}, env...)...), nil, b.bin("consumer"), mine...)
		if err != nil {
			return scalePoint{}, "", err
		}
		cs, addrs = append(cs, c), append(addrs, addr)
	}
	began := cs[0].started
	for deadline := time.Now().Add(10 * time.Minute); !w.caughtUp(ends); time.Sleep(time.Millisecond) {
		w.poll()
		for _, c := range cs {
			if !c.running() {
				return scalePoint{}, "", c.exitErr()
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return scalePoint{}, "", fmt.Errorf("%s: not at the end after %s", name, time.Since(cs[0].started).Round(time.Second))
		}
	}
	done := w.reachedAt(ends)
	first, firstSum := w.first()
	var pt scalePoint
	var writes, writeSum float64
	for i, c := range cs {
		h, err := scrapeHistogram("http://"+addrs[i]+"/metrics", "weather_consumer_checkpoint_write_seconds")
		if err != nil {
			return pt, "", err
		}
		writes, writeSum = writes+h.count, writeSum+h.sum
		if err := c.stop(30 * time.Second); err != nil {
			return pt, "", err
		}
		if err := c.exitErr(); err != nil {
			return pt, "", err
		}
		pt.cpu += c.cpu()
	}
	cs = nil
	d := done.Sub(first).Seconds()
	if d <= 0 || firstSum*2 > total {
		d, firstSum = done.Sub(first.Add(-time.Nanosecond)).Seconds(), 0 // one batch held most of it: the rate includes start-up
	}
	pt.perSec = float64(b.scaleRecords) * float64(total-firstSum) / float64(total) / d
	pt.ckptPerSec = writes / d
	if writes > 0 {
		pt.ckptMean = time.Duration(writeSum / writes * 1e9)
	}
	var size int64
	for _, p := range parts {
		if fi, err := os.Stat(w.path(p)); err == nil {
			size += fi.Size()
		}
	}
	pt.fileBytes = size / int64(len(parts))
	pt.took = done.Sub(began)
	return pt, dir, nil
}

// medianPass is the pass of median rate among b.scaleReps (its data
// directory with it).
func (b *bench) medianPass(ctx context.Context, name, topic string, procs int) (scalePoint, string, error) {
	type run struct {
		pt  scalePoint
		dir string
	}
	var runs []run
	for range max(1, b.scaleReps) {
		pt, dir, err := b.pass(ctx, name, topic, procs)
		if err != nil {
			return pt, dir, err
		}
		runs = append(runs, run{pt, dir})
	}
	slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.pt.perSec, b.pt.perSec) })
	m := runs[len(runs)/2]
	return m.pt, m.dir, nil
}

// startUp starts a stats consumer over dir's caught-up files and returns
// how long it took to be consuming: connect, lock, load and check every
// checkpoint, list the offsets.
func (b *bench) startUp(ctx context.Context, topic, dir string, parts int) (time.Duration, error) {
	args := make([]string, 0, parts)
	for p := range parts {
		args = append(args, strconv.Itoa(p))
	}
	ready := make(chan time.Time, 1)
	c, err := b.spawn("scale-start", b.consumerEnvs("TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+freeAddr()), func(stream, line string) {
		if stream == "stderr" && strings.Contains(line, "msg=consuming") {
			select {
			case ready <- time.Now():
			default:
			}
		}
	}, b.bin("consumer"), args...)
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.stop(30 * time.Second) }()
	select {
	case t := <-ready:
		return t.Sub(c.started), nil
	case <-c.done:
		return 0, fmt.Errorf("consumer exited: %w (log: %s)", c.exitErr(), c.log)
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("consumer not consuming after a minute (log: %s)", c.log)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// scalingRun measures the three series.
func (b *bench) scalingRun(ctx context.Context) error {
	s := &b.res.scaling
	s.records, s.reps, s.partStations, s.procsPartitions = b.scaleRecords, max(1, b.scaleReps), 1000, 16
	topics := map[[2]int]string{} // (partitions, stations) -> topic
	topic := func(p, st int) (string, error) {
		if t, ok := topics[[2]int{p, st}]; ok {
			return t, nil
		}
		b.progress("scaling: producing %s reports of %d stations into %d partitions", fmtCount(b.scaleRecords), st, p)
		t, err := b.scalingTopic(ctx, p, st)
		topics[[2]int{p, st}] = t
		return t, err
	}
	// Partitions, one consumer; stations enough for every partition to
	// have data (10 stations would leave most of 64 empty).
	for _, p := range []int{4, 16, 64} {
		t, err := topic(p, s.partStations)
		if err != nil {
			return err
		}
		pt, _, err := b.medianPass(ctx, "scale-partitions", t, 1)
		if err != nil {
			return err
		}
		pt.x = p
		s.partitions = append(s.partitions, pt)
		b.progress("scaling: %d partitions, 1 consumer: %.0f reports/s, %.0f checkpoint writes/s", p, pt.perSec, pt.ckptPerSec)
	}
	// Consumer processes over one topic.
	for _, n := range []int{1, 2, 4} {
		t, err := topic(s.procsPartitions, s.partStations)
		if err != nil {
			return err
		}
		pt, _, err := b.medianPass(ctx, "scale-consumers", t, n)
		if err != nil {
			return err
		}
		pt.x = n
		s.procs = append(s.procs, pt)
		b.progress("scaling: %d consumers over %d partitions: %.0f reports/s in all", n, s.procsPartitions, pt.perSec)
	}
	// Stations: the files grow with them.
	for _, st := range []int{10, 1000, 10000} {
		t, err := topic(4, st)
		if err != nil {
			return err
		}
		pt, dir, err := b.medianPass(ctx, "scale-stations", t, 1)
		if err != nil {
			return err
		}
		if pt.restart, err = b.startUp(ctx, t, dir, 4); err != nil {
			return err
		}
		pt.x = st
		s.stations = append(s.stations, pt)
		b.progress("scaling: %d stations: %.0f reports/s; files of %s, a write %s, start-up %s",
			st, pt.perSec, bytesText(pt.fileBytes), ms(pt.ckptMean), ms(pt.restart))
	}
	return nil
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
