package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// producerRun is one producer at full speed.
type producerRun struct {
	records   int64
	took      time.Duration // the producing itself, as the process measures it
	wall      time.Duration // process start to exit
	perSec    float64
	mbPerSec  float64 // MB = 2^20 bytes of key+value, as Kafka's tools count
	rss       int64   // peak
	cpu       time.Duration
	txnMillis float64 // mean transaction length
	// Kafka's tool only
	avgLatencyMs, p99LatencyMs float64
}

// txnRecords is the producer's default TXN_MAX_RECORDS.
const txnRecords = 10_000

// producerFullSpeed runs our producer: COUNT reports, INTERVAL=0, default
// transactions (10000 reports or 1 s, at a whole day), into a new topic.
func (b *bench) producerFullSpeed(ctx context.Context, topic string) error {
	c, err := b.spawn("producer-full-speed", b.producerEnvs("TOPIC="+topic, "COUNT="+strconv.FormatInt(b.records, 10),
		"INTERVAL=0", "SEED=1", "HTTP_ADDR="+freeAddr(), "TRANSACTIONAL_ID=bench-"+topic), nil, b.bin("producer"))
	if err != nil {
		return err
	}
	b.progress("producer: %s reports, INTERVAL=0, acks=all, idempotent, transactional", fmtCount(b.records))
	if err := b.follow(ctx, c, 2*time.Second, 10*time.Minute, func(elapsed time.Duration) {
		if _, sum, err := b.endOffsets(ctx, topic); err == nil {
			b.progress("producer: %s/%s offsets written, %.0f reports/s so far", fmtCount(sum), fmtCount(b.records), float64(sum)/elapsed.Seconds())
		}
	}); err != nil {
		return err
	}
	if err := c.exitErr(); err != nil {
		return err
	}
	m := regexp.MustCompile(`msg=stopped .*committed=(\d+) .*took=(\S+)`).FindStringSubmatch(c.stderrText())
	if m == nil {
		return fmt.Errorf("no 'stopped ... took=' line in %s", c.log)
	}
	committed, _ := strconv.ParseInt(m[1], 10, 64)
	took, err := time.ParseDuration(m[2])
	if err != nil {
		return fmt.Errorf("producer committed %s in %s (%w), want %d", m[1], m[2], err, b.records)
	}
	if committed != b.records {
		return fmt.Errorf("producer committed %s in %s, want %d", m[1], m[2], b.records)
	}
	if b.res.keySize == 0 {
		if b.res.keySize, b.res.valueSize, err = b.recordSize(ctx, topic, 20_000); err != nil {
			return fmt.Errorf("record size: %w", err)
		}
	}
	key, value := b.res.keySize, b.res.valueSize
	r := producerRun{records: committed, took: took, wall: c.exited.Sub(c.started), rss: c.peakRSS(), cpu: c.cpu()}
	r.perSec = float64(committed) / took.Seconds()
	r.mbPerSec = r.perSec * (key + value) / (1 << 20)
	r.txnMillis = float64(took.Milliseconds()) / math.Ceil(float64(committed)/txnRecords)
	b.res.producers = append(b.res.producers, r)
	b.progress("producer: %.0f reports/s (%.2f MB/s) over %s; records %.1f B key + %.1f B value; peak RSS %.1f MiB",
		r.perSec, r.mbPerSec, took.Round(time.Millisecond), key, value, mib(r.rss))
	return nil
}

// perfProducers runs Kafka's ProducerPerformance with our record size (key +
// value: the tool sends no key) and acks: idempotent as Kafka's producer is
// by default, then also transactional, committing as often as ours did.
func (b *bench) perfProducers(ctx context.Context) error {
	size := int(math.Round(b.res.keySize + b.res.valueSize))
	r, err := b.perfProducer(ctx, size, 0)
	if err != nil {
		return err
	}
	b.res.perfProducers = append(b.res.perfProducers, r)
	ours := b.res.producers[len(b.res.producers)-1]
	txnMs := max(1, int(math.Round(ours.txnMillis)))
	r, err = b.perfProducer(ctx, size, txnMs)
	if err != nil {
		return fmt.Errorf("transactional: %w", err)
	}
	r.txnMillis = float64(txnMs)
	b.res.perfProducersTxn = append(b.res.perfProducersTxn, r)
	return nil
}

var perfProducerLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ` +
	`([\d.]+) ms avg latency, ([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?`)

func (b *bench) perfProducer(ctx context.Context, size, txnMs int) (producerRun, error) {
	topic := fmt.Sprintf("bench-perf-producer-%d", time.Now().UnixNano())
	if err := b.createTopic(ctx, topic); err != nil {
		return producerRun{}, err
	}
	args := []string{"tool", "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.FormatInt(b.records, 10), "--record-size", strconv.Itoa(size),
		"--throughput", "-1", "--producer-props", "bootstrap.servers=" + b.brokers, "acks=all", "enable.idempotence=true"}
	what := "acks=all, idempotent"
	if txnMs > 0 {
		args = append(args, "--transactional-id", "bench-"+topic, "--transaction-duration-ms", strconv.Itoa(txnMs))
		what += fmt.Sprintf(", transactional (commit every %d ms)", txnMs)
	}
	b.progress("ProducerPerformance: %s records of %d B, %s", fmtCount(b.records), size, what)
	c, err := b.spawn("perf-producer", nil, func(stream, line string) {
		if stream == "stdout" && perfProducerLine.MatchString(line) {
			b.progress("ProducerPerformance: %s", line)
		}
	}, filepath.Join(b.repo, "hack", "kafka", "kafka.sh"), args...)
	if err != nil {
		return producerRun{}, err
	}
	if err := b.follow(ctx, c, 0, 10*time.Minute, nil); err != nil {
		return producerRun{}, err
	}
	if err := c.exitErr(); err != nil {
		return producerRun{}, err
	}
	var last []string
	scanLines(c.stdoutText(), func(l string) {
		if m := perfProducerLine.FindStringSubmatch(l); m != nil && m[6] != "" {
			last = m
		}
	})
	if last == nil {
		return producerRun{}, fmt.Errorf("no final line in the output of ProducerPerformance (%s)", c.log)
	}
	r := producerRun{wall: c.exited.Sub(c.started), rss: c.peakRSS(), cpu: c.cpu()}
	r.records, _ = strconv.ParseInt(last[1], 10, 64)
	r.perSec, _ = strconv.ParseFloat(last[2], 64)
	r.mbPerSec, _ = strconv.ParseFloat(last[3], 64)
	r.avgLatencyMs, _ = strconv.ParseFloat(last[4], 64)
	r.p99LatencyMs, _ = strconv.ParseFloat(last[8], 64)
	r.took = time.Duration(float64(r.records) / r.perSec * float64(time.Second))
	if r.records != b.records {
		return r, fmt.Errorf("ProducerPerformance sent %d records, want %d", r.records, b.records)
	}
	return r, nil
}

// follow waits for c to exit, calling tick every `every` (0: never) with the
// time since it started, and kills it after timeout or when ctx ends.
func (b *bench) follow(ctx context.Context, c *child, every, timeout time.Duration, tick func(time.Duration)) error {
	var tc <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tc = t.C
	}
	deadline := time.After(timeout)
	for {
		select {
		case <-c.done:
			return nil
		case <-tc:
			tick(time.Since(c.started))
		case <-deadline:
			_ = c.cmd.Process.Kill()
			<-c.done
			return fmt.Errorf("%s still running after %s; killed (log: %s)", c.name, timeout, c.log)
		case <-ctx.Done():
			_ = c.cmd.Process.Kill()
			<-c.done
			return ctx.Err()
		}
	}
}
