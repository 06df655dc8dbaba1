package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// dashboardRun is the dashboard under load while the pipeline runs at full
// speed: clients asking the API back to back, event streams open as pages
// would hold them, and what the page costs to open.
type dashboardRun struct {
	clients, streams int
	took             time.Duration // both loads
	paced, saturated apiLoadRun
	events           int64     // view events the streams received
	refresh          histogram // the dashboard's own refreshes: the snapshots it follows, then Kafka
	pipelineRate     float64   // offsets/s the topic grew meanwhile (reports and markers)
	rss              int64     // the dashboard's peak resident set size
	pageBytes        int64     // /, app.js and style.css
	dataBytes        int64     // what the page loads at open: /api/v1/lag and the first view event
}

// The targets.
const (
	targetDashboardP99  = 20 * time.Millisecond
	targetDashboardRSS  = 40 << 20
	targetDashboardPage = 300_000
)

// apiPaths are what the clients ask, in turn at random.
var apiPaths = []string{"/api/v1/view", "/api/v1/stations", "/api/v1/partitions"}

func (b *bench) dashboardLoad(ctx context.Context) error {
	r := dashboardRun{clients: b.dashClients, streams: b.dashClients}
	topic := fmt.Sprintf("bench-dashboard-%d", time.Now().UnixNano())
	if err := b.createTopic(ctx, topic); err != nil {
		return err
	}
	dir := filepath.Join(b.runDir, "dashboard")
	producer, err := b.spawn("dashboard-producer", b.producerEnvs("TOPIC="+topic, "INTERVAL=0", "HTTP_ADDR="+freeAddr(),
		"TRANSACTIONAL_ID=bench-"+topic), nil, b.bin("producer"))
	if err != nil {
		return err
	}
	defer func() { _ = producer.stop(30 * time.Second) }()
	consumerAddr := freeAddr()
	consumer, err := b.spawn("dashboard-consumer", b.consumerEnvs("TOPIC="+topic, "DATA_DIR="+dir, "HTTP_ADDR="+consumerAddr), nil,
		b.bin("consumer"), "0", "1", "2", "3")
	if err != nil {
		return err
	}
	defer func() { _ = consumer.stop(30 * time.Second) }()
	if err := waitReady(ctx, consumer, "http://"+consumerAddr+"/readyz"); err != nil {
		return err
	}
	addr := freeAddr()
	dash, err := b.spawn("dashboard", b.env("TOPIC="+topic, "HTTP_ADDR="+addr), nil, b.bin("dashboard"))
	if err != nil {
		return err
	}
	defer func() { _ = dash.stop(30 * time.Second) }()
	base := "http://" + addr
	if err := waitReady(ctx, dash, base+"/readyz"); err != nil {
		return err
	}
	// No client timeout: it would end the event streams too; each load ends with its context.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * r.clients}}
	if r.pageBytes, r.dataBytes, err = pageCost(ctx, client, base); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // the pipeline at full speed, files being written, their snapshots published

	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var streams sync.WaitGroup
	var events atomic.Int64
	for range r.streams {
		streams.Go(func() { events.Add(stream(load, client, base+"/api/v1/events")) })
	}
	_, before, err := b.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	began := time.Now()
	r.paced = apiLoad(ctx, client, base, r.clients, dashboardPace, b.dashDuration)
	r.saturated = apiLoad(ctx, client, base, r.clients, 0, b.dashDuration)
	r.took = time.Since(began)
	stopLoad()
	streams.Wait()
	_, after, err := b.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	if r.paced.requests == 0 || r.saturated.requests == 0 {
		return fmt.Errorf("no request of the dashboard succeeded (%d, %d errors; log: %s)", r.paced.errs, r.saturated.errs, dash.log)
	}
	r.events = events.Load()
	if r.refresh, err = scrapeHistogram(base+"/metrics", "weather_dashboard_refresh_seconds"); err != nil {
		return err
	}
	r.pipelineRate = float64(after-before) / r.took.Seconds()
	r.rss = dash.peakRSS()
	b.res.dashboard = &r
	b.progress("dashboard: %d clients each every %s: p99 %s; back to back: %s requests/s, p99 %s; %d streams; pipeline %s offsets/s meanwhile; peak RSS %.1f MiB",
		r.clients, dashboardPace, ms(r.paced.p99), rate(r.saturated.rate()), ms(r.saturated.p99), r.streams, rate(r.pipelineRate), mib(r.rss))
	return nil
}

// dashboardPace is how often each paced client asks: ten times what a page
// polling every second would.
const dashboardPace = 100 * time.Millisecond

// apiLoadRun is one load of the API: its requests' latencies.
type apiLoadRun struct {
	every         time.Duration // each client's pace; 0: back to back
	took          time.Duration
	requests      int64
	errs          int64
	p50, p99, max time.Duration
}

func (a apiLoadRun) rate() float64 { return float64(a.requests) / a.took.Seconds() }

// apiLoad runs clients that each ask the API (view, stations, partitions at
// random) every every (0: as soon as the last answer is in) for d.
func apiLoad(ctx context.Context, client *http.Client, base string, clients int, every, d time.Duration) apiLoadRun {
	run := apiLoadRun{every: every}
	load, stop := context.WithTimeout(ctx, d)
	defer stop()
	lat := make([][]time.Duration, clients)
	var errs atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for i := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			next := time.Now().Add(time.Duration(rng.Int64N(int64(max(every, 1))))) // spread, not in step
			for load.Err() == nil {
				if every > 0 {
					select {
					case <-load.Done():
						return
					case <-time.After(time.Until(next)):
					}
					next = next.Add(every)
				}
				t := time.Now()
				if err := get(load, client, base+apiPaths[rng.IntN(len(apiPaths))]); err != nil {
					if load.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	run.took = time.Since(began)
	all := slices.Sorted(slices.Values(slices.Concat(lat...)))
	run.requests, run.errs = int64(len(all)), errs.Load()
	if len(all) > 0 {
		run.p50, run.p99, run.max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return run
}

// get asks for url and reads the whole answer.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// stream holds an event stream open until ctx ends, and counts its views.
func stream(ctx context.Context, client *http.Client, url string) int64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var n int64
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		if lines.Text() == "event: view" {
			n++
		}
	}
	return n
}

// pageCost is what opening the page transfers: its three files, then its
// data (the lag history and the first view event).
func pageCost(ctx context.Context, client *http.Client, base string) (page, data int64, err error) {
	size := func(path string) (int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if path == "/api/v1/events" { // the first event only
			r := bufio.NewReader(resp.Body)
			var n int64
			for {
				line, err := r.ReadString('\n')
				n += int64(len(line))
				if err != nil || line == "\n" {
					return n, err
				}
			}
		}
		return io.Copy(io.Discard, resp.Body)
	}
	for _, p := range []string{"/", "/assets/app.js", "/assets/style.css"} {
		n, err := size(p)
		if err != nil {
			return 0, 0, fmt.Errorf("GET %s: %w", p, err)
		}
		page += n
	}
	for _, p := range []string{"/api/v1/lag", "/api/v1/events"} {
		n, err := size(p)
		if err != nil {
			return 0, 0, fmt.Errorf("GET %s: %w", p, err)
		}
		data += n
	}
	return page, data, nil
}

// dashboardRows is the dashboard's lines of the table.
func (r *results) dashboardRows(s *md, v *verdicts) {
	d := r.dashboard
	if d == nil {
		return
	}
	for _, l := range []apiLoadRun{d.paced, d.saturated} {
		how, target := "back to back (saturation: latency = clients / rate)", "–"
		if l.every > 0 {
			how = "each every " + l.every.String()
			target = fmt.Sprintf("p99 < %s: %s", ms(targetDashboardP99), v.verdict("dashboard p99 < 20 ms", l.p99 < targetDashboardP99))
		}
		s.p("| Dashboard API, %d clients %s for %s (view, stations, partitions at random), %d event streams open, the pipeline at full speed (%s offsets/s) | "+
			"**%s** requests/s, p50 %s, p99 **%s** (max %s), %d errors | | | %s |\n",
			d.clients, how, l.took.Round(time.Second), d.streams, rate(d.pipelineRate),
			rate(l.rate()), ms(l.p50), ms(l.p99), ms(l.max), l.errs, target)
	}
	s.p("| Dashboard peak resident memory, through both loads (its %d event streams got %s views meanwhile; %.0f refreshes, %s each on average) | **%.1f MiB** | | | < 40 MiB: %s |\n",
		d.streams, thousands(d.events), d.refresh.count, ms(time.Duration(d.refresh.sum/d.refresh.count*1e9)), mib(d.rss), v.verdict("dashboard < 40 MiB", d.rss < targetDashboardRSS))
	s.p("| Dashboard page transfer: `/`, `app.js`, `style.css` (uncompressed, nothing from elsewhere), "+
		"then its data (`/api/v1/lag`, the first view event) | **%.1f KB**; data %.1f KB | | | < 300 KB: %s |\n",
		float64(d.pageBytes)/1000, float64(d.dataBytes)/1000, v.verdict("page < 300 KB", d.pageBytes+d.dataBytes < targetDashboardPage))
}
