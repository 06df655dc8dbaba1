package producers

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/process"
)

// perf runs Kafka's ProducerPerformance with our record size (key + value:
// the tool sends no key) and acks: idempotent as Kafka's producer is by
// default, then also transactional, committing as often as ours did.
func (m *measurement) perf(ctx context.Context) error {
	size := int(math.Round(m.res.KeySize + m.res.ValueSize))
	r, err := m.perfRun(ctx, size, 0)
	if err != nil {
		return err
	}
	m.res.Perf = append(m.res.Perf, r)
	ours := m.res.Ours[len(m.res.Ours)-1]
	txnMs := max(1, int(math.Round(ours.TxnMillis)))
	r, err = m.perfRun(ctx, size, txnMs)
	if err != nil {
		return fmt.Errorf("transactional: %w", err)
	}
	r.TxnMillis = float64(txnMs)
	m.res.PerfTxn = append(m.res.PerfTxn, r)
	return nil
}

var perfLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ` +
	`([\d.]+) ms avg latency, ([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?`)

// perfRun is one ProducerPerformance run of records of size bytes,
// transactional with a commit every txnMs if txnMs > 0.
func (m *measurement) perfRun(ctx context.Context, size, txnMs int) (Run, error) {
	topic := fmt.Sprintf("bench-perf-producer-%d", time.Now().UnixNano())
	if err := m.Kafka.CreateTopic(ctx, topic); err != nil {
		return Run{}, err
	}
	args := []string{"tool", "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.FormatInt(m.Records, 10), "--record-size", strconv.Itoa(size),
		"--throughput", "-1", "--producer-props", "bootstrap.servers=" + m.Kafka.Brokers(), "acks=all", "enable.idempotence=true"}
	what := "acks=all, idempotent"
	if txnMs > 0 {
		args = append(args, "--transactional-id", "bench-"+topic, "--transaction-duration-ms", strconv.Itoa(txnMs))
		what += fmt.Sprintf(", transactional (commit every %d ms)", txnMs)
	}
	m.Log.Printf("ProducerPerformance: %s records of %d B, %s", format.Count(m.Records), size, what)
	c, err := m.Processes.Start("perf-producer", nil, func(stream, line string) {
		if stream == "stdout" && perfLine.MatchString(line) {
			m.Log.Printf("ProducerPerformance: %s", line)
		}
	}, kafka.Script(m.Repo), args...)
	if err != nil {
		return Run{}, err
	}
	if err := c.Follow(ctx, 0, 10*time.Minute, nil); err != nil {
		return Run{}, err
	}
	if err := c.ExitErr(); err != nil {
		return Run{}, err
	}
	var last []string
	process.ScanLines(c.Stdout(), func(l string) {
		if match := perfLine.FindStringSubmatch(l); match != nil && match[6] != "" {
			last = match
		}
	})
	if last == nil {
		return Run{}, fmt.Errorf("no final line in the output of ProducerPerformance (%s)", c.Log)
	}
	r := Run{Wall: c.Exited().Sub(c.Started), RSS: c.PeakRSS(), CPU: c.CPU()}
	r.Records, _ = strconv.ParseInt(last[1], 10, 64)
	r.PerSec, _ = strconv.ParseFloat(last[2], 64)
	r.MBPerSec, _ = strconv.ParseFloat(last[3], 64)
	r.AvgLatencyMs, _ = strconv.ParseFloat(last[4], 64)
	r.P99LatencyMs, _ = strconv.ParseFloat(last[8], 64)
	r.Took = time.Duration(float64(r.Records) / r.PerSec * float64(time.Second))
	if r.Records != m.Records {
		return r, fmt.Errorf("ProducerPerformance sent %d records, want %d", r.Records, m.Records)
	}
	return r, nil
}
