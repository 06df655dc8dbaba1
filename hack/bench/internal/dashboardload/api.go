package dashboardload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// apiPaths are what the clients ask, in turn at random.
var apiPaths = []string{"/api/v1/view", "/api/v1/stations", "/api/v1/partitions"}

// APILoad is one load of the API: its requests' latencies.
type APILoad struct {
	Every         time.Duration // each client's pace; 0: back to back
	Took          time.Duration
	Requests      int64
	Errs          int64
	P50, P99, Max time.Duration
}

// Rate is the requests answered per second.
func (a APILoad) Rate() float64 { return float64(a.Requests) / a.Took.Seconds() }

// apiLoad runs clients that each ask the API (view, stations, partitions at
// random) every every (0: as soon as the last answer is in) for d.
func apiLoad(ctx context.Context, client *http.Client, base string, clients int, every, d time.Duration) APILoad {
	run := APILoad{Every: every}
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
	run.Took = time.Since(began)
	all := slices.Sorted(slices.Values(slices.Concat(lat...)))
	run.Requests, run.Errs = int64(len(all)), errs.Load()
	if len(all) > 0 {
		run.P50, run.P99, run.Max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
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
