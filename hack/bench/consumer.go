package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// consumerRun is one pass over the topic from offset 0 to the end.
type consumerRun struct {
	perSec   float64       // reports/s from the first batch to the end
	wall     time.Duration // process start to the end
	wallRate float64       // reports/s over wall
	rss      int64         // peak resident memory (VmHWM)
	cpu      time.Duration
	// stats consumer only: checkpoint writes, from its histogram
	ckptP50, ckptP99, ckptMean time.Duration
	ckptCount                  int64
	// ConsumerPerformance only: its rebalance (group join) time
	rebalance time.Duration
}

var allParts = []int32{0, 1, 2, 3}

// statsConsumer runs `consumer 0 1 2 3` from empty checkpoints until every
// checkpoint file holds its partition's end offset.
func (b *bench) statsConsumer(ctx context.Context, topic string) error {
	ends, total, err := b.settledEnds(ctx, topic)
	if err != nil {
		return err
	}
	b.res.offsets = total
	// A directory of its own, and no snapshot to restore from: every run
	// starts from offset 0.
	if err := b.forgetSnapshots(ctx, topic); err != nil {
		return err
	}
	dir := filepath.Join(b.runDir, fmt.Sprintf("stats-consumer-%d", time.Now().UnixNano()))
	addr := freeAddr()
	c, err := b.spawn("stats-consumer", b.consumerEnvs("TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+addr), nil,
		b.bin("consumer"), "0", "1", "2", "3")
	if err != nil {
		return err
	}
	defer func() { _ = c.stop(30 * time.Second) }()
	b.progress("stats consumer: %s offsets in 4 partitions, checkpoint with fsync per batch into %s", fmtCount(total), dir)
	w, err := newWatch(dir, allParts)
	if err != nil {
		return err
	}
	defer w.close()
	var (
		nextReport = time.Now().Add(2 * time.Second)
		deadline   = time.Now().Add(10 * time.Minute)
	)
	for {
		w.poll()
		now := time.Now()
		if w.caughtUp(ends) {
			break
		}
		if !c.running() {
			return c.exitErr()
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stats consumer not at the end after %s: %w", now.Sub(c.started).Round(time.Second), err)
		}
		if now.After(deadline) {
			return fmt.Errorf("stats consumer not at the end after %s", now.Sub(c.started).Round(time.Second))
		}
		if now.After(nextReport) {
			_, sum := w.offsets()
			rss, _ := memory(c.cmd.Process.Pid)
			hwm := c.peakRSS()
			b.progress("stats consumer: %s/%s offsets in the files, %.0f/s, RSS %.1f MiB (peak %.1f)",
				fmtCount(sum), fmtCount(total), float64(sum)/now.Sub(c.started).Seconds(), mib(rss), mib(hwm))
			nextReport = now.Add(2 * time.Second)
		}
		time.Sleep(time.Millisecond)
	}
	done := w.reachedAt(ends)
	first, firstSum := w.first()
	peak := c.peakRSS() // of the pass, not of the shutdown
	hist, herr := scrapeHistogram("http://"+addr+"/metrics", "weather_consumer_checkpoint_write_seconds")
	if err := c.stop(30 * time.Second); err != nil {
		return err
	}
	if err := c.exitErr(); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	b.lastStatsDir = dir
	r := consumerRun{wall: done.Sub(c.started), rss: peak, cpu: c.cpu()}
	r.wallRate = b.reports(total) / r.wall.Seconds()
	r.perSec = b.window(total, firstSum, done.Sub(first), r.wallRate)
	r.ckptP50, r.ckptP99 = hist.quantile(0.5), hist.quantile(0.99)
	r.ckptMean, r.ckptCount = time.Duration(hist.sum/float64(hist.count)*1e9), int64(hist.count)
	b.res.stats = append(b.res.stats, r)
	b.res.ckpt = b.res.ckpt.merge(hist)
	b.progress("stats consumer: %.0f reports/s (%.0f/s incl. start-up), peak RSS %.1f MiB, %d checkpoints, write p50 %s p99 %s",
		r.perSec, r.wallRate, mib(r.rss), r.ckptCount, ms(r.ckptP50), ms(r.ckptP99))
	return nil
}

// reports converts offsets (which count the transaction markers too) to
// reports, using the whole topic's ratio.
func (b *bench) reports(offsets int64) float64 {
	if b.res.offsets == 0 {
		return float64(offsets)
	}
	return float64(offsets) * float64(b.records) / float64(b.res.offsets)
}

// window is the rate from the first batch to the end: total-first offsets
// in d. If the first batch held half the topic or more (a small -records),
// that says nothing, and the rate with start-up, wallRate, is returned.
func (b *bench) window(total, first int64, d time.Duration, wallRate float64) float64 {
	if first*2 > total || d <= 0 {
		b.progress("(the first batch held %s of %s offsets: the rate includes start-up)", fmtCount(first), fmtCount(total))
		return wallRate
	}
	return b.reports(total-first) / d.Seconds()
}

// rawResult is what `bench rawconsume` prints.
type rawResult struct {
	Start       time.Time `json:"start"`
	First       time.Time `json:"first"`        // first non-empty fetch
	FirstOffset int64     `json:"first_offset"` // sum of the offsets after it
	Done        time.Time `json:"done"`
	Total       int64     `json:"total"`
	HWM         int64     `json:"vmhwm"`
}

// rawConsume runs the baseline: the same client options as the stats
// consumer (read committed, control records kept, 1 MiB per partition per
// fetch), from offset 0 to the end, doing nothing per record; as a process
// of its own, so its memory and CPU are its own.
func (b *bench) rawConsume(ctx context.Context, topic string) error {
	ends, _, err := b.settledEnds(ctx, topic)
	if err != nil {
		return err
	}
	var e []string
	for p, o := range ends {
		e = append(e, fmt.Sprintf("%d=%d", p, o))
	}
	args := []string{"rawconsume", "-brokers", b.brokers, "-topic", topic, "-ends", strings.Join(e, ",")}
	// The same client options as the stats consumer: its fetch sizes.
	if v := b.consumer.setting("FETCH_MAX_PARTITION_BYTES"); v != "" {
		args = append(args, "-fetch-max-partition-bytes", v)
	}
	if v := b.consumer.setting("FETCH_MAX_BYTES"); v != "" {
		args = append(args, "-fetch-max-bytes", v)
	}
	c, err := b.spawn("raw-consume", nil, func(stream, line string) {
		if stream == "stderr" {
			b.progress("raw consume: %s", line)
		}
	}, b.self, args...)
	if err != nil {
		return err
	}
	res, err := output[rawResult](ctx, b, c)
	if err != nil {
		return err
	}
	r := consumerRun{wall: res.Done.Sub(c.started), rss: max(res.HWM, c.peakRSS()), cpu: c.cpu()}
	r.wallRate = b.reports(res.Total) / r.wall.Seconds()
	r.perSec = b.window(res.Total, res.FirstOffset, res.Done.Sub(res.First), r.wallRate)
	b.res.raws = append(b.res.raws, r)
	b.progress("raw consume: %.0f reports/s (%.0f/s incl. start-up), peak RSS %.1f MiB", r.perSec, r.wallRate, mib(r.rss))
	return nil
}

// perfConsumer runs Kafka's ConsumerPerformance over the same topic, read
// committed. Its rate is fetch.nMsg.sec: from the group join to the end.
func (b *bench) perfConsumer(ctx context.Context, topic string) error {
	props := filepath.Join(b.runDir, "consumer-perf.properties")
	if err := os.WriteFile(props, []byte("isolation.level=read_committed\n"), 0o644); err != nil {
		return err
	}
	b.progress("ConsumerPerformance: %s messages, read committed, 1 MiB per partition per fetch", fmtCount(b.records))
	c, err := b.spawn("perf-consumer", nil, nil, filepath.Join(b.repo, "hack", "kafka", "kafka.sh"), "tool",
		"org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", b.brokers, "--topic", topic,
		"--messages", strconv.FormatInt(b.records, 10), "--group", fmt.Sprintf("bench-%s-%d", topic, len(b.res.perfConsumers)), "--consumer.config", props,
		"--fetch-size", "1048576")
	if err != nil {
		return err
	}
	if err := b.follow(ctx, c, 5*time.Second, 10*time.Minute, func(d time.Duration) {
		b.progress("ConsumerPerformance: running for %s", d.Round(time.Second))
	}); err != nil {
		return err
	}
	if err := c.exitErr(); err != nil {
		return err
	}
	// start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
	var header, values []string
	scanLines(c.stdoutText(), func(l string) {
		f := strings.Split(l, ", ")
		if len(f) == 10 && f[0] == "start.time" {
			header = f
		} else if header != nil && len(f) == 10 {
			values = f
		}
	})
	if values == nil {
		return fmt.Errorf("no result line in the output of ConsumerPerformance (%s)", c.log)
	}
	get := func(name string) float64 {
		for i, h := range header {
			if h == name {
				v, _ := strconv.ParseFloat(values[i], 64)
				return v
			}
		}
		return math.NaN()
	}
	if n := get("data.consumed.in.nMsg"); n != float64(b.records) {
		return fmt.Errorf("ConsumerPerformance consumed %v messages, want %d", n, b.records)
	}
	r := consumerRun{perSec: get("fetch.nMsg.sec"), wallRate: get("nMsg.sec"), rss: c.peakRSS(), cpu: c.cpu(),
		rebalance: time.Duration(get("rebalance.time.ms")) * time.Millisecond}
	r.wall = time.Duration(float64(b.records) / r.wallRate * float64(time.Second))
	b.res.perfConsumers = append(b.res.perfConsumers, r)
	b.progress("ConsumerPerformance: %.0f messages/s after the group join (%.0f/s incl. the join), JVM peak RSS %.0f MiB",
		r.perSec, r.wallRate, mib(r.rss))
	return nil
}

// restart SIGKILLs the stats consumer while it has a backlog and restarts
// it, b.restarts times, timing each restart to its first new checkpoint: the
// first file replaced after the restart, with a higher offset.
func (b *bench) restart(ctx context.Context, topic string) error {
	ends, total, err := b.settledEnds(ctx, topic)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.runDir, "restart")
	var w *watch
	defer func() {
		if w != nil {
			w.close()
		}
	}()
	start := func() (*child, error) {
		return b.spawn("restart-consumer", b.consumerEnvs("TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+freeAddr(), "LOCK_WAIT=10s"), nil,
			b.bin("consumer"), "0", "1", "2", "3")
	}
	// waitNew waits until a file is replaced with a higher offset than offs.
	waitNew := func(c *child, gens map[int32]int, offs map[int32]int64) (time.Time, error) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if t, ok := w.newSince(gens, offs); ok {
				return t, nil
			}
			if !c.running() {
				return time.Time{}, c.exitErr()
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return time.Time{}, fmt.Errorf("no new checkpoint %s after the restart (log: %s)", time.Since(c.started).Round(time.Second), c.log)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// fresh starts a consumer from empty checkpoints and waits for its first.
	fresh := func() (*child, error) {
		old, _ := filepath.Glob(filepath.Join(dir, "partition-*.json"))
		for _, f := range old {
			os.Remove(f)
		}
		if err := b.forgetSnapshots(ctx, topic); err != nil {
			return nil, err
		}
		if w != nil {
			w.close()
		}
		var err error
		if w, err = newWatch(dir, allParts); err != nil {
			return nil, err
		}
		c, err := start()
		if err != nil {
			return nil, err
		}
		_, err = waitNew(c, map[int32]int{}, map[int32]int64{})
		return c, err
	}
	c, err := fresh()
	if err != nil {
		return err
	}
	defer func() { _ = c.stop(30 * time.Second) }()
	for i := 0; i < b.restarts; i++ {
		time.Sleep(100 * time.Millisecond)
		if w.poll(); w.caughtUp(ends) {
			// No backlog left: start over from offset 0.
			b.progress("restart: the consumer is at the end; starting it over from empty checkpoints for a backlog")
			if err := c.stop(30 * time.Second); err != nil {
				return err
			}
			if c, err = fresh(); err != nil {
				return err
			}
		}
		c.signal(syscall.SIGKILL)
		if err := c.wait(10 * time.Second); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond) // the last events of the dead process
		w.scan()
		gens := w.generations()
		offs, sum := w.offsets()
		if c, err = start(); err != nil {
			return err
		}
		t, err := waitNew(c, gens, offs)
		if err != nil {
			return err
		}
		d := t.Sub(c.started)
		b.res.restarts = append(b.res.restarts, d)
		b.progress("restart %d/%d: SIGKILLed at %s/%s offsets; first new checkpoint %s after the restart",
			i+1, b.restarts, fmtCount(sum), fmtCount(total), d.Round(time.Millisecond))
	}
	if len(b.res.restarts) == 0 {
		return fmt.Errorf("no restart measured")
	}
	return nil
}

// scrapeValue returns the value of an unlabelled metric.
func scrapeValue(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	v, found := 0.0, false
	scanLines(string(body), func(l string) {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			v, err = strconv.ParseFloat(f[1], 64)
			found = err == nil
		}
	})
	if !found {
		return 0, fmt.Errorf("%s: no %s", url, name)
	}
	return v, nil
}

// histogram is a Prometheus histogram as scraped.
type histogram struct {
	buckets []bucket // by upper bound; cumulative counts
	sum     float64
	count   float64
}

type bucket struct{ le, count float64 }

func scrapeHistogram(url, name string) (histogram, error) {
	var h histogram
	resp, err := http.Get(url)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return h, err
	}
	scanLines(string(body), func(l string) {
		f := strings.Fields(l)
		if len(f) != 2 {
			return
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(f[0], name+"_bucket{le=\""):
			le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(f[0], name+"_bucket{le=\""), "\"}"), 64)
			if err == nil {
				h.buckets = append(h.buckets, bucket{le, v})
			}
		case f[0] == name+"_sum":
			h.sum = v
		case f[0] == name+"_count":
			h.count = v
		}
	})
	if h.count == 0 || len(h.buckets) == 0 {
		return h, fmt.Errorf("%s: no %s histogram", url, name)
	}
	sort.Slice(h.buckets, func(i, j int) bool { return h.buckets[i].le < h.buckets[j].le })
	return h, nil
}

// merge adds the counts of o (same buckets) to h.
func (h histogram) merge(o histogram) histogram {
	if len(h.buckets) == 0 {
		h.buckets = slices.Clone(o.buckets)
	} else {
		for i := range h.buckets {
			h.buckets[i].count += o.buckets[i].count
		}
	}
	h.sum += o.sum
	h.count += o.count
	return h
}

// quantile interpolates linearly within the bucket, as PromQL's
// histogram_quantile does.
func (h histogram) quantile(q float64) time.Duration {
	rank := q * h.count
	prevLe, prevCount := 0.0, 0.0
	for _, b := range h.buckets {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return time.Duration(prevLe * 1e9)
			}
			v := prevLe + (b.le-prevLe)*(rank-prevCount)/math.Max(b.count-prevCount, 1e-9)
			return time.Duration(v * 1e9)
		}
		prevLe, prevCount = b.le, b.count
	}
	return time.Duration(prevLe * 1e9)
}
