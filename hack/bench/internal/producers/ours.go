package producers

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/process"
)

// ours runs our producer: COUNT reports, INTERVAL=0, default transactions
// (10000 reports or 1 s, at a whole day), into a new topic.
func (m *measurement) ours(ctx context.Context, topic string) error {
	c, err := m.Services.StartProducer("producer-full-speed", "TOPIC="+topic, "COUNT="+strconv.FormatInt(m.Records, 10),
		"INTERVAL=0", "SEED=1", "HTTP_ADDR="+process.FreeAddr(), "TRANSACTIONAL_ID=bench-"+topic)
	if err != nil {
		return err
	}
	m.Log.Printf("producer: %s reports, INTERVAL=0, acks=all, idempotent, transactional", format.Count(m.Records))
	if err := c.Follow(ctx, 2*time.Second, 10*time.Minute, func(elapsed time.Duration) {
		if _, sum, err := m.Kafka.EndOffsets(ctx, topic); err == nil {
			m.Log.Printf("producer: %s/%s offsets written, %.0f reports/s so far", format.Count(sum), format.Count(m.Records), float64(sum)/elapsed.Seconds())
		}
	}); err != nil {
		return err
	}
	if err := c.ExitErr(); err != nil {
		return err
	}
	match := regexp.MustCompile(`msg=stopped .*committed=(\d+) .*took=(\S+)`).FindStringSubmatch(c.Stderr())
	if match == nil {
		return fmt.Errorf("no 'stopped ... took=' line in %s", c.Log)
	}
	committed, _ := strconv.ParseInt(match[1], 10, 64)
	took, err := time.ParseDuration(match[2])
	if err != nil {
		return fmt.Errorf("producer committed %s in %s (%w), want %d", match[1], match[2], err, m.Records)
	}
	if committed != m.Records {
		return fmt.Errorf("producer committed %s in %s, want %d", match[1], match[2], m.Records)
	}
	if m.res.KeySize == 0 {
		if m.res.KeySize, m.res.ValueSize, err = m.Kafka.RecordSize(ctx, topic, 20_000); err != nil {
			return fmt.Errorf("record size: %w", err)
		}
	}
	key, value := m.res.KeySize, m.res.ValueSize
	r := Run{Records: committed, Took: took, Wall: c.Exited().Sub(c.Started), RSS: c.PeakRSS(), CPU: c.CPU()}
	r.PerSec = float64(committed) / took.Seconds()
	r.MBPerSec = r.PerSec * (key + value) / (1 << 20)
	r.TxnMillis = float64(took.Milliseconds()) / math.Ceil(float64(committed)/txnRecords)
	m.res.Ours = append(m.res.Ours, r)
	m.Log.Printf("producer: %.0f reports/s (%.2f MB/s) over %s; records %.1f B key + %.1f B value; peak RSS %.1f MiB",
		r.PerSec, r.MBPerSec, took.Round(time.Millisecond), key, value, format.MiB(r.RSS))
	return nil
}
