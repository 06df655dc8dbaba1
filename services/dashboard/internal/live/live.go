// Package live is the dashboard's one loop: every interval it takes the
// newest snapshots the follower holds (internal/follow), then asks Kafka,
// builds the view, and hands it — encoded once — to every reader of the API
// and every open event stream. Requests never touch Kafka, so their cost
// does not grow with readers.
package live

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/dashboard/internal/follow"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

// Kafka is what the loop asks Kafka: kafkalog.Reader. offsets gives the
// offsets shown of the topic's log, once Kafka said which it is.
type Kafka interface {
	Read(ctx context.Context, offsets func(topicID string) map[int32]int64) view.Log
}

// Snapshots is what the loop asks the follower of the snapshot topic:
// follow.Follower.
type Snapshots interface {
	// Newest is every partition's newest snapshot of each log, waiting
	// (until ctx ends) for the follower's first catch-up; its error is a
	// refusal.
	Newest(ctx context.Context) (follow.Held, error)
	// Forget drops a log's snapshots: the topic was recreated.
	Forget(topicID string)
}

// Config sizes the loop.
type Config struct {
	Topic    string
	Interval time.Duration // between refreshes
	History  time.Duration // how far back the lag history goes
}

// Encoded is one view, encoded for each endpoint that serves it.
type Encoded struct {
	View       []byte // /api/v1/view and the event stream
	Stations   []byte // /api/v1/stations
	Partitions []byte // /api/v1/partitions
}

// LagPoint is every partition's lag at one refresh; null where unknown.
type LagPoint struct {
	Time time.Time         `json:"time"`
	Lag  map[string]*int64 `json:"lag"`
}

// Live holds the newest view and tells subscribers of each new one.
type Live struct {
	cfg       Config
	snapshots Snapshots
	kafka     Kafka
	log       *slog.Logger
	metrics   *Metrics

	kafkaErr string // the last refresh's, logged when it changes
	topicID  string // the topic's, as Kafka last said; the log whose snapshots are shown
	known    bool   // Kafka said it once

	mu      sync.Mutex
	current *Encoded
	history []LagPoint
	subs    map[chan struct{}]struct{}
}

// New returns the loop over the followed snapshots and kafka's facts; Run
// runs it.
func New(cfg Config, snapshots Snapshots, kafka Kafka, log *slog.Logger, m *Metrics) *Live {
	return &Live{cfg: cfg, snapshots: snapshots, kafka: kafka, log: log, metrics: m, subs: map[chan struct{}]struct{}{}}
}

// Run refreshes the view every interval until ctx ends, or until Kafka
// denies the dashboard a right it needs (an ACL on the topic or on its
// snapshot topic: waiting cannot change it);
// onFirst is called once the first view is there.
func (l *Live) Run(ctx context.Context, onFirst func()) error {
	tick := time.NewTicker(l.cfg.Interval)
	defer tick.Stop()
	for first := true; ; first = false {
		if err := l.Refresh(ctx); kafkaconfig.Permanent(err) {
			return err
		}
		if first {
			onFirst()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Refresh builds a new view now and publishes it; it returns why Kafka's
// facts are missing from it, if they are, or the follower's refusal.
func (l *Live) Refresh(ctx context.Context) error {
	began := time.Now()
	// Kafka gets at most a few intervals: while it does not answer, the
	// snapshots held are still shown, with the reason.
	budget := max(2*time.Second, 3*l.cfg.Interval)
	kctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	// The snapshots first, then the log: no snapshot is then newer than
	// the log end it is compared with (a lag is never below zero). Half of
	// the time at most for the follower's catch-up, the rest is Kafka's.
	wait, stopWaiting := context.WithTimeout(kctx, budget/2)
	held, refused := l.snapshots.Newest(wait)
	stopWaiting()
	facts := l.kafka.Read(kctx, func(topicID string) map[int32]int64 { return held.Offsets(l.cfg.Topic, topicID) })
	if facts.Err == nil {
		if l.known && facts.TopicID != l.topicID {
			l.log.Info("the topic was recreated: its old log's snapshots are forgotten", "topic", l.cfg.Topic,
				"topic_id", facts.TopicID, "was", l.topicID)
			l.snapshots.Forget(l.topicID)
		}
		l.topicID, l.known = facts.TopicID, true
	}
	var snaps []view.Snapshot
	if l.known { // else Kafka never answered: of which log the snapshots held are, is not known
		snaps = held.Of(l.cfg.Topic, l.topicID)
	}
	v := view.Build(time.Now(), l.cfg.Topic, snaps, facts)
	l.noteKafka(ctx, facts.Err)
	enc, err := encode(v)
	if err != nil { // a view is plain data: this is a bug
		l.log.Error("encode view", "err", err)
		return cmp.Or(refused, facts.Err)
	}
	point := LagPoint{Time: v.Time, Lag: map[string]*int64{}}
	for _, p := range v.Partitions {
		point.Lag[strconv.Itoa(int(p.Partition))] = p.Lag
		if p.State == view.StateError {
			l.metrics.snapshotErrors.Inc()
		}
	}
	l.mu.Lock()
	l.current = enc
	l.history = append(l.history, point)
	for len(l.history) > 0 && v.Time.Sub(l.history[0].Time) > l.cfg.History {
		l.history = l.history[1:]
	}
	for ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default: // it has not taken the last one yet; it will read the newest
		}
	}
	l.mu.Unlock()
	l.metrics.refresh.Observe(time.Since(began).Seconds())
	return cmp.Or(refused, facts.Err)
}

// noteKafka counts a refresh without Kafka's facts, and logs when that
// starts, changes or ends (not once a second).
func (l *Live) noteKafka(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // stopping
	}
	msg := ""
	if err != nil {
		msg = err.Error()
		l.metrics.kafkaErrors.Inc()
	}
	if msg != l.kafkaErr && msg == "" {
		l.log.Info("kafka answers again")
	} else if msg != l.kafkaErr {
		l.log.Warn("no facts from kafka; showing the snapshots held only", "err", err)
	}
	l.kafkaErr = msg
}

// Current is the newest view, nil before the first refresh.
func (l *Live) Current() *Encoded {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// History is the lag of every partition at each refresh over the history window, oldest first.
func (l *Live) History() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return json.Marshal(struct {
		Points []LagPoint `json:"points"`
	}{Points: append([]LagPoint{}, l.history...)})
}

// Subscribe returns a channel that receives a signal after each refresh,
// and the function that ends the subscription.
func (l *Live) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	n := len(l.subs)
	l.mu.Unlock()
	l.metrics.streams.Set(float64(n))
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		n := len(l.subs)
		l.mu.Unlock()
		l.metrics.streams.Set(float64(n))
	}
}

func encode(v view.View) (*Encoded, error) {
	var enc Encoded
	var err error
	if enc.View, err = json.Marshal(v); err != nil {
		return nil, err
	}
	if enc.Stations, err = json.Marshal(struct {
		Time     time.Time      `json:"time"`
		Complete bool           `json:"complete"`
		Stations []view.Station `json:"stations"`
	}{v.Time, v.Complete, v.Stations}); err != nil {
		return nil, err
	}
	enc.Partitions, err = json.Marshal(struct {
		Time       time.Time        `json:"time"`
		Topic      string           `json:"topic"`
		TopicID    string           `json:"topic_id"`
		KafkaError string           `json:"kafka_error,omitempty"`
		Partitions []view.Partition `json:"partitions"`
		Unread     []int32          `json:"unread"`
	}{v.Time, v.Topic, v.TopicID, v.KafkaError, v.Partitions, v.Unread})
	return &enc, err
}

// Metrics are the loop's Prometheus metrics, and the follower's.
type Metrics struct {
	refresh         prometheus.Histogram
	kafkaErrors     prometheus.Counter
	snapshotErrors  prometheus.Counter
	snapshotRecords prometheus.Counter
	streams         prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		refresh: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weather_dashboard_refresh_seconds", Help: "Time to take the newest snapshots, ask Kafka and build a view.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		kafkaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_dashboard_kafka_errors_total", Help: "Refreshes in which Kafka did not answer.",
		}),
		snapshotErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_dashboard_snapshot_errors_total",
			Help: "Partitions whose newest snapshot did not load or did not fit the log (error rows), counted at each refresh.",
		}),
		snapshotRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_dashboard_snapshot_records_total", Help: "Records read from the snapshot topic.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_dashboard_event_streams", Help: "Open /api/v1/events streams.",
		}),
	}
	reg.MustRegister(m.refresh, m.kafkaErrors, m.snapshotErrors, m.snapshotRecords, m.streams)
	return m
}

// SnapshotRecords counts the records the follower reads.
func (m *Metrics) SnapshotRecords() prometheus.Counter { return m.snapshotRecords }
