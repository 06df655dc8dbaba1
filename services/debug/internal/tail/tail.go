// Package tail is the debug consumer's loop: it prints each report the
// group is given, one line each, and marks it for the group's commits only
// once printed, so that a restart resumes right after the last printed line.
package tail

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/debug/internal/printer"
)

// Metrics are the debug consumer's Prometheus metrics.
type Metrics struct {
	printed prometheus.Counter
	skipped *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg; every skip reason starts at 0.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		printed: prometheus.NewCounter(prometheus.CounterOpts{Name: "weather_debug_records_total", Help: "Reports printed."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weather_debug_records_skipped_total", Help: "Records that were not valid reports.",
		}, []string{"reason"}),
	}
	for _, r := range codec.Reasons() {
		m.skipped.WithLabelValues(r)
	}
	reg.MustRegister(m.printed, m.skipped)
	return m
}

// ClientOpts are the group consumer options Run relies on: commit only what
// was marked (printed), and on a revoke; a new group starts at the end of
// the topic, never the beginning (as the original).
func ClientOpts(log *slog.Logger, group, topic string, onAssigned func()) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			log.Info("partitions assigned", "group", group, "assigned", a)
			onAssigned()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, r map[string][]int32) {
			log.Info("partitions revoked", "group", group, "revoked", r)
			if err := c.CommitMarkedOffsets(ctx); err != nil {
				log.Error("commit on revoke", "err", err)
			}
		}),
	}
}

// Run prints records until ctx is done, then commits what it printed. The
// client must be made with ClientOpts.
func Run(ctx context.Context, log *slog.Logger, client *kgo.Client, w io.Writer, format func([]byte, printer.Line) []byte, m *Metrics) error {
	out := bufio.NewWriter(w)
	var report reportpb.Report
	var line []byte
	var denied error
	for {
		fetches := client.PollFetches(ctx)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			switch {
			case kafkaconfig.Permanent(err) && t == "": // the group's, not a partition's
				denied = fmt.Errorf("consume: %w", err)
				return
			case kafkaconfig.Permanent(err):
				denied = fmt.Errorf("fetch %s partition %d: %w", t, p, err)
				return
			}
			log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		})
		if denied != nil {
			break // retrying cannot change it; commit what was printed, then stop
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			if err := codec.Decode(rec.Key, rec.Value, &report); err != nil {
				log.Error("skipping bad record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				m.skipped.WithLabelValues(codec.Reason(err)).Inc()
				return
			}
			line = format(line[:0], printer.Line{Report: &report, Partition: rec.Partition, Offset: rec.Offset})
			_, _ = out.Write(line) // a write error stays in out: Flush returns it
			m.printed.Inc()
		})
		if err := out.Flush(); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
		// Printed records are done: mark them for the group's commits.
		client.MarkCommitRecords(fetches.Records()...)
	}
	// Commit what was printed, so the next run resumes right after it.
	commit, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.CommitMarkedOffsets(commit); err != nil && denied == nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	return denied
}
