package consume

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
)

// publisher hands written states on: each partition's state to the snapshot
// topic, at most every interval (and always at the end), and the written
// offsets to the monitoring consumer group, as often — for every Kafka tool
// to see the lag, never read back. Both follow the files: only a state that
// is on disk is published, so a snapshot is never ahead of its file.
type publisher struct {
	client   *kgo.Client // produces to the snapshot topic (snapshot.ClientOpts)
	adm      *kadm.Client
	log      *slog.Logger
	metrics  *Metrics
	topic    string // the reports topic
	group    string // the monitoring group
	interval time.Duration
	logs     map[int32]stats.Log

	unpublished map[int32][]byte    // written states not published yet
	published   map[int32]time.Time // when each partition's last went out
	offsets     map[int32]int64     // the written offsets
	uncommitted bool                // offsets written since the last group commit began
	committedAt time.Time
	committing  chan struct{} // a group commit in flight; nil: none

	mu  sync.Mutex
	err error // a refusal of a snapshot (an ACL): the consumer stops on it
}

func newPublisher(client *kgo.Client, log *slog.Logger, m *Metrics, topic, group string, interval time.Duration, logs map[int32]stats.Log) *publisher {
	return &publisher{client: client, adm: kadm.NewClient(client), log: log, metrics: m, topic: topic, group: group, interval: interval, logs: logs,
		unpublished: map[int32][]byte{}, published: map[int32]time.Time{}, offsets: map[int32]int64{}}
}

// written takes states just written to disk (and their offsets), and
// publishes what is due.
func (p *publisher) written(snap checkpoint.Snapshot, offsets map[int32]int64, now time.Time) {
	for part, data := range snap {
		p.unpublished[part] = data
		p.offsets[part] = offsets[part]
		p.uncommitted = true
	}
	p.tick(now)
}

// tick publishes what is due: each partition's last written state and the
// written offsets go out within interval of their write even when no write
// follows (the stream paused or ended: the dashboard, a restore on another
// node and the group's lag see the newest, not the one before).
func (p *publisher) tick(now time.Time) {
	for _, part := range slices.Sorted(maps.Keys(p.unpublished)) {
		if now.Sub(p.published[part]) >= p.interval {
			p.publish(part, now)
		}
	}
	if c := p.committing; c != nil {
		select {
		case <-c:
			p.committing = nil
		default:
		}
	}
	if p.uncommitted && now.Sub(p.committedAt) >= p.interval && p.committing == nil {
		p.committedAt, p.uncommitted = now, false
		done := make(chan struct{})
		p.committing = done
		offsets := p.groupOffsets()
		go func() {
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p.commit(ctx, offsets)
		}()
	}
}

// due is when tick has something to do next; false: nothing waits.
func (p *publisher) due() (time.Time, bool) {
	var at time.Time
	waiting := false
	earliest := func(t time.Time) {
		if !waiting || t.Before(at) {
			at, waiting = t, true
		}
	}
	for part := range p.unpublished {
		earliest(p.published[part].Add(p.interval))
	}
	if p.uncommitted {
		// A commit in flight ends within its timeout; tick is polled again
		// by then at the latest.
		earliest(p.committedAt.Add(p.interval))
	}
	return at, waiting
}

// publish sends partition part's unpublished state, in the background.
func (p *publisher) publish(part int32, now time.Time) {
	data := p.unpublished[part]
	delete(p.unpublished, part)
	p.published[part] = now
	p.client.Produce(context.Background(), snapshot.Record(snapshot.Topic(p.topic), p.logs[part], data), func(r *kgo.Record, err error) {
		if err == nil {
			p.metrics.snapshots.WithLabelValues("published").Inc()
			return
		}
		p.metrics.snapshots.WithLabelValues("failed").Inc()
		if kafkaconfig.Permanent(err) {
			p.mu.Lock()
			p.err = fmt.Errorf("publish a snapshot to %s: %w", r.Topic, err)
			p.mu.Unlock()
			return
		}
		p.log.Warn("snapshot not published; the next one will be", "partition", part, "err", err)
	})
}

// failed is a refusal of a snapshot or of a group commit (an ACL), if any:
// retrying cannot change it.
func (p *publisher) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *publisher) groupOffsets() kadm.Offsets {
	offsets := kadm.Offsets{}
	for part, at := range p.offsets {
		offsets.Add(kadm.Offset{Topic: p.topic, Partition: part, At: at, LeaderEpoch: -1})
	}
	return offsets
}

// commit commits offsets to the monitoring group, as a client outside the
// group (no member, no generation): the group only ever holds what the
// files hold. A failure is logged; the next commit carries the same news.
func (p *publisher) commit(ctx context.Context, offsets kadm.Offsets) {
	resp, err := p.adm.CommitOffsets(ctx, p.group, offsets)
	if err == nil {
		err = resp.Error()
	}
	switch {
	case err == nil, ctx.Err() != nil:
	case kafkaconfig.Permanent(err): // no right on the group: stop, saying so
		p.mu.Lock()
		p.err = fmt.Errorf("commit offsets to the monitoring group %s: %w", p.group, err)
		p.mu.Unlock()
	default:
		p.log.Warn("offsets not committed to the monitoring group", "group", p.group, "err", err)
	}
}

// close publishes every state not published yet and commits the written
// offsets, waiting up to wait for both: a partition given up (a stop, a
// rebalance) leaves its newest state in Kafka for whoever takes it next.
func (p *publisher) close(wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	now := time.Now()
	for _, part := range slices.Sorted(maps.Keys(p.unpublished)) {
		p.publish(part, now)
	}
	if c := p.committing; c != nil {
		select {
		case <-c:
		case <-ctx.Done():
		}
	}
	if len(p.offsets) > 0 {
		p.commit(ctx, p.groupOffsets())
	}
	if err := p.client.Flush(ctx); err != nil {
		p.log.Warn("last snapshots not all published", "err", err)
	}
	return p.failed()
}
