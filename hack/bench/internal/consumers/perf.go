package consumers

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/process"
)

// perf runs Kafka's ConsumerPerformance over the same topic, read
// committed. Its rate is fetch.nMsg.sec: from the group join to the end.
func (m *measurement) perf(ctx context.Context, topic string) error {
	props := filepath.Join(m.Dir, "consumer-perf.properties")
	if err := os.WriteFile(props, []byte("isolation.level=read_committed\n"), 0o644); err != nil {
		return err
	}
	m.Log.Printf("ConsumerPerformance: %s messages, read committed, 1 MiB per partition per fetch", format.Count(m.Records))
	c, err := m.Processes.Start("perf-consumer", nil, nil, kafka.Script(m.Repo), "tool",
		"org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", m.Kafka.Brokers(), "--topic", topic,
		"--messages", strconv.FormatInt(m.Records, 10), "--group", fmt.Sprintf("bench-%s-%d", topic, len(m.res.Perf)), "--consumer.config", props,
		"--fetch-size", "1048576")
	if err != nil {
		return err
	}
	if err := c.Follow(ctx, 5*time.Second, 10*time.Minute, func(d time.Duration) {
		m.Log.Printf("ConsumerPerformance: running for %s", d.Round(time.Second))
	}); err != nil {
		return err
	}
	if err := c.ExitErr(); err != nil {
		return err
	}
	// start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
	var header, values []string
	process.ScanLines(c.Stdout(), func(l string) {
		f := strings.Split(l, ", ")
		if len(f) == 10 && f[0] == "start.time" {
			header = f
		} else if header != nil && len(f) == 10 {
			values = f
		}
	})
	if values == nil {
		return fmt.Errorf("no result line in the output of ConsumerPerformance (%s)", c.Log)
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
	if n := get("data.consumed.in.nMsg"); n != float64(m.Records) {
		return fmt.Errorf("ConsumerPerformance consumed %v messages, want %d", n, m.Records)
	}
	r := Run{PerSec: get("fetch.nMsg.sec"), WallRate: get("nMsg.sec"), RSS: c.PeakRSS(), CPU: c.CPU(),
		Rebalance: time.Duration(get("rebalance.time.ms")) * time.Millisecond}
	r.Wall = time.Duration(float64(m.Records) / r.WallRate * float64(time.Second))
	m.res.Perf = append(m.res.Perf, r)
	m.Log.Printf("ConsumerPerformance: %.0f messages/s after the group join (%.0f/s incl. the join), JVM peak RSS %.0f MiB",
		r.PerSec, r.WallRate, format.MiB(r.RSS))
	return nil
}
