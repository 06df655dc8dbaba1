// Package live is the dashboard's one loop: every interval it reads the
// partition files, then asks Kafka, builds the view, and hands it — encoded
// once — to every reader of the API and every open event stream. Requests
// never touch the disk or Kafka, so their cost does not grow with readers.
package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

// Kafka is what the loop asks Kafka: kafkalog.Reader.
type Kafka interface {
	Read(ctx context.Context, offsets map[int32]int64) view.Log
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
	cfg     Config
	store   *checkpoint.Store
	kafka   Kafka
	log     *slog.Logger
	metrics *Metrics

	kafkaErr string // the last refresh's, logged when it changes

	mu      sync.Mutex
	current *Encoded
	history []LagPoint
	subs    map[chan struct{}]struct{}
}

// New returns the loop over store's files and kafka's facts; Run runs it.
func New(cfg Config, store *checkpoint.Store, kafka Kafka, log *slog.Logger, m *Metrics) *Live {
	return &Live{cfg: cfg, store: store, kafka: kafka, log: log, metrics: m, subs: map[chan struct{}]struct{}{}}
}

// Run refreshes the view every interval until ctx ends, or until Kafka
// denies the dashboard a right it needs (an ACL: waiting cannot change it);
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
// facts are missing from it, if they are.
func (l *Live) Refresh(ctx context.Context) error {
	began := time.Now()
	files := l.readFiles()
	offsets := map[int32]int64{}
	for _, f := range files {
		if f.State != nil {
			offsets[f.Partition] = f.State.Offset
		}
	}
	// Kafka gets at most a few intervals: while it does not answer, the
	// files are still shown, with the reason.
	kctx, cancel := context.WithTimeout(ctx, max(2*time.Second, 3*l.cfg.Interval))
	facts := l.kafka.Read(kctx, offsets)
	cancel()
	v := view.Build(time.Now(), l.cfg.Topic, files, facts)
	l.noteKafka(ctx, facts.Err)
	enc, err := encode(v)
	if err != nil { // a view is plain data: this is a bug
		l.log.Error("encode view", "err", err)
		return facts.Err
	}
	point := LagPoint{Time: v.Time, Lag: map[string]*int64{}}
	for _, p := range v.Partitions {
		point.Lag[strconv.Itoa(int(p.Partition))] = p.Lag
		if p.State == view.StateError {
			l.metrics.fileErrors.Inc()
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
	return facts.Err
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
		l.log.Warn("no facts from kafka; showing the files only", "err", err)
	}
	l.kafkaErr = msg
}

// readFiles reads every partition file with its time and owner. A file
// that does not load is a File with Err, never left out.
func (l *Live) readFiles() []view.File {
	parts, err := l.store.Partitions()
	if err != nil {
		l.log.Error("list partition files", "err", err)
	}
	files := make([]view.File, 0, len(parts))
	for _, p := range parts {
		f := view.File{Partition: p, Owned: l.store.Held(p)}
		f.Name = filepath.Base(l.store.Path(p))
		// Stat before Load: the version loaded is this one or newer, so the
		// age shown is never younger than the stats.
		if info, err := os.Stat(l.store.Path(p)); err == nil {
			f.ModTime = info.ModTime()
		}
		f.State, f.Err = l.store.Load(p)
		if f.State == nil && f.Err == nil {
			continue // removed since it was listed
		}
		files = append(files, f)
	}
	return files
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

// Metrics are the loop's Prometheus metrics.
type Metrics struct {
	refresh     prometheus.Histogram
	kafkaErrors prometheus.Counter
	fileErrors  prometheus.Counter
	streams     prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		refresh: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weather_dashboard_refresh_seconds", Help: "Time to read the files and Kafka and build a view.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		kafkaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_dashboard_kafka_errors_total", Help: "Refreshes in which Kafka did not answer.",
		}),
		fileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weather_dashboard_file_errors_total", Help: "Partition files that did not load or were of another log, counted at each refresh.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weather_dashboard_event_streams", Help: "Open /api/v1/events streams.",
		}),
	}
	reg.MustRegister(m.refresh, m.kafkaErrors, m.fileErrors, m.streams)
	return m
}
