// Package dashboardload measures the dashboard under load while the
// pipeline runs at full speed: clients asking its API back to back and at
// a pace, event streams open as pages would hold them, and what the page
// costs to open.
package dashboardload

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/metrics"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
	"github.com/weatherstream/weather/hack/bench/internal/service"
)

// Config is what the dashboard's load needs.
type Config struct {
	Clients  int           // concurrent clients of the API, and as many event streams
	Duration time.Duration // of each load
	Dir      string        // the run directory
	Services *service.Binaries
	Kafka    *kafka.Admin
	Log      *progress.Log
}

// Run is the dashboard under load.
type Run struct {
	Clients, Streams int
	Took             time.Duration // both loads
	Paced, Saturated APILoad
	Events           int64             // view events the streams received
	Refresh          metrics.Histogram // the dashboard's own refreshes: the snapshots it follows, then Kafka
	PipelineRate     float64           // offsets/s the topic grew meanwhile (reports and markers)
	RSS              int64             // the dashboard's peak resident set size
	PageBytes        int64             // /, app.js and style.css
	DataBytes        int64             // what the page loads at open: /api/v1/lag and the first view event
}

// Pace is how often each paced client asks: ten times what a page polling
// every second would.
const Pace = 100 * time.Millisecond

// Measure runs the pipeline on a new topic with a dashboard, and loads the
// dashboard's API: first at Pace, then back to back, cfg.Duration each.
func Measure(ctx context.Context, cfg Config) (*Run, error) {
	r := Run{Clients: cfg.Clients, Streams: cfg.Clients}
	topic := fmt.Sprintf("bench-dashboard-%d", time.Now().UnixNano())
	if err := cfg.Kafka.CreateTopic(ctx, topic); err != nil {
		return nil, err
	}
	dash, base, stop, err := startPipeline(ctx, cfg, topic)
	defer stop()
	if err != nil {
		return nil, err
	}
	// No client timeout: it would end the event streams too; each load ends with its context.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * r.Clients}}
	if r.PageBytes, r.DataBytes, err = pageCost(ctx, client, base); err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second) // the pipeline at full speed, files being written, their snapshots published

	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var streams sync.WaitGroup
	var events atomic.Int64
	for range r.Streams {
		streams.Go(func() { events.Add(stream(load, client, base+"/api/v1/events")) })
	}
	_, before, err := cfg.Kafka.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	r.Paced = apiLoad(ctx, client, base, r.Clients, Pace, cfg.Duration)
	r.Saturated = apiLoad(ctx, client, base, r.Clients, 0, cfg.Duration)
	r.Took = time.Since(began)
	stopLoad()
	streams.Wait()
	_, after, err := cfg.Kafka.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if r.Paced.Requests == 0 || r.Saturated.Requests == 0 {
		return nil, fmt.Errorf("no request of the dashboard succeeded (%d, %d errors; log: %s)", r.Paced.Errs, r.Saturated.Errs, dash.Log)
	}
	r.Events = events.Load()
	if r.Refresh, err = metrics.Scrape(base+"/metrics", "weather_dashboard_refresh_seconds"); err != nil {
		return nil, err
	}
	r.PipelineRate = float64(after-before) / r.Took.Seconds()
	r.RSS = dash.PeakRSS()
	cfg.Log.Printf("dashboard: %d clients each every %s: p99 %s; back to back: %s requests/s, p99 %s; %d streams; pipeline %s offsets/s meanwhile; peak RSS %.1f MiB",
		r.Clients, Pace, format.Ms(r.Paced.P99), format.Rate(r.Saturated.Rate()), format.Ms(r.Saturated.P99), r.Streams, format.Rate(r.PipelineRate), format.MiB(r.RSS))
	return &r, nil
}

// startPipeline starts a producer at full speed into topic, a stats
// consumer of it and a dashboard, and waits for the consumer and the
// dashboard to be ready. It returns the dashboard, its URL, and stop, which
// stops whatever it started (call it even on an error).
func startPipeline(ctx context.Context, cfg Config, topic string) (dash *process.Child, base string, stop func(), err error) {
	var started []*process.Child
	stop = func() {
		for i := len(started) - 1; i >= 0; i-- {
			_ = started[i].Stop(30 * time.Second)
		}
	}
	dir := filepath.Join(cfg.Dir, "dashboard")
	producer, err := cfg.Services.StartProducer("dashboard-producer", "TOPIC="+topic, "INTERVAL=0", "HTTP_ADDR="+process.FreeAddr(),
		"TRANSACTIONAL_ID=bench-"+topic)
	if err != nil {
		return nil, "", stop, err
	}
	started = append(started, producer)
	consumerAddr := process.FreeAddr()
	consumer, err := cfg.Services.StartConsumer("dashboard-consumer", kafka.Partitions, nil, "TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+consumerAddr)
	if err != nil {
		return nil, "", stop, err
	}
	started = append(started, consumer)
	if err := service.WaitReady(ctx, consumer, "http://"+consumerAddr+"/readyz"); err != nil {
		return nil, "", stop, err
	}
	addr := process.FreeAddr()
	dash, err = cfg.Services.StartDashboard("dashboard", "TOPIC="+topic, "HTTP_ADDR="+addr)
	if err != nil {
		return nil, "", stop, err
	}
	started = append(started, dash)
	base = "http://" + addr
	if err := service.WaitReady(ctx, dash, base+"/readyz"); err != nil {
		return nil, "", stop, err
	}
	return dash, base, stop, nil
}
