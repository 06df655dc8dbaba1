package web

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/dashboard/internal/live"
)

// source is a Source whose view the test sets.
type source struct {
	mu      sync.Mutex
	current *live.Encoded
	subs    []chan struct{}
}

func (s *source) Current() *live.Encoded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

func (s *source) History() ([]byte, error) { return []byte(`{"points":[]}`), nil }

func (s *source) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs = append(s.subs, ch)
	s.mu.Unlock()
	return ch, func() {}
}

func (s *source) set(view string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = &live.Encoded{View: []byte(view), Stations: []byte(`{"stations":[]}`), Partitions: []byte(`{"partitions":[]}`)}
	for _, ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// server serves the dashboard as main does: its endpoints beside every
// service's, on observe's server. It returns the base URL.
func server(t *testing.T) (string, *source, chan struct{}) {
	t.Helper()
	src := &source{}
	done := make(chan struct{})
	var health observe.Health
	health.Ready(true)
	mux := observe.NewMux(prometheus.NewRegistry(), &health)
	Register(mux, src, done)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := observe.Config{HTTPAddr: "127.0.0.1:0", HTTPMaxConnections: 16, HTTPIdleTimeout: time.Second}
	addr, err := observe.ListenAndServe(ctx, cfg, mux, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			close(done)
		}
		cancel()
	})
	return "http://" + addr.String(), src, done
}

func TestEndpoints(t *testing.T) {
	srv, src, _ := server(t)
	type response struct {
		code   int
		header http.Header
		body   string
	}
	get := func(method, path string) response {
		t.Helper()
		req, _ := http.NewRequest(method, srv+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp.StatusCode, resp.Header, string(b)}
	}
	if resp := get(http.MethodGet, "/api/v1/view"); resp.code != http.StatusServiceUnavailable {
		t.Errorf("before the first view: %d, want 503", resp.code)
	}
	src.set(`{"stations":[{"station":"StationA"}]}`)
	for _, tc := range []struct {
		method, path string
		code         int
		typ, body    string
	}{
		{"GET", "/", 200, "text/html", `<script src="/assets/app.js"`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/assets/app.js", 200, "javascript", "EventSource"},
		{"GET", "/assets/style.css", 200, "text/css", ""},
		{"GET", "/api/v1/view", 200, "application/json", `{"stations":[{"station":"StationA"}]}`},
		{"GET", "/api/v1/stations", 200, "application/json", `{"stations":[]}`},
		{"GET", "/api/v1/partitions", 200, "application/json", `{"partitions":[]}`},
		{"GET", "/api/v1/lag", 200, "application/json", `{"points":[]}`},
		// Read-only: nothing but GET and HEAD.
		{"POST", "/api/v1/view", http.StatusMethodNotAllowed, "", ""},
		{"PUT", "/", http.StatusMethodNotAllowed, "", ""},
		{"DELETE", "/api/v1/stations", http.StatusMethodNotAllowed, "", ""},
		{"GET", "/api/v2/view", http.StatusNotFound, "", ""},
		{"GET", "/assets/../web.go", http.StatusNotFound, "", ""},
	} {
		resp := get(tc.method, tc.path)
		if resp.code != tc.code || !strings.Contains(resp.header.Get("Content-Type"), tc.typ) || !strings.Contains(resp.body, tc.body) {
			t.Errorf("%s %s = %d %q %.80q; want %d, %q, a body with %q", tc.method, tc.path, resp.code, resp.header.Get("Content-Type"), resp.body, tc.code, tc.typ, tc.body)
		}
	}
}

// Every answer of the dashboard's server carries the security headers the
// page relies on (its script and style from its own origin only, no inline
// ones: app.js and style.css are written for that): the page's, the API's,
// the event stream's, and the mux's and the file server's own 404, 405 and
// redirects. The page, the API and the stream answer GET and HEAD only.
func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	srv, src, _ := server(t)
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
			"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-cache",
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	type answer struct {
		method, path string
		code         int
		allow        string // of a 405
		location     string // of a redirect
	}
	check := func(tc answer) {
		t.Helper()
		req, _ := http.NewRequest(tc.method, srv+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp.Body.Close() // the event stream's too: its headers are in
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
		for name, value := range want {
			if got := resp.Header.Values(name); len(got) != 1 || got[0] != value {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, name, got, value)
			}
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if got := resp.Header.Get("Location"); got != tc.location {
			t.Errorf("%s %s: Location %q, want %q", tc.method, tc.path, got, tc.location)
		}
	}
	check(answer{"GET", "/api/v1/view", 503, "", ""}) // before the first view
	src.set(`{"stations":[]}`)
	for _, tc := range []answer{
		{"GET", "/", 200, "", ""},
		{"HEAD", "/", 200, "", ""},
		{"GET", "/assets/app.js", 200, "", ""},
		{"GET", "/assets/style.css", 200, "", ""},
		{"GET", "/api/v1/view", 200, "", ""},
		{"HEAD", "/api/v1/stations", 200, "", ""},
		{"GET", "/api/v1/partitions", 200, "", ""},
		{"GET", "/api/v1/lag", 200, "", ""},
		{"GET", "/api/v1/events", 200, "", ""},
		{"GET", "/healthz", 200, "", ""},
		{"GET", "/readyz", 200, "", ""},
		{"GET", "/metrics", 200, "", ""},
		{"GET", "/assets", 307, "", "/assets/"},
		{"GET", "/api/../readyz", 307, "", "/readyz"},
		{"GET", "/assets/missing.js", 404, "", ""}, // the file server's 404, which drops Cache-Control
		{"GET", "/api/v2/view", 404, "", ""},
		{"DELETE", "/nowhere", 404, "", ""},
		{"POST", "/", 405, "GET, HEAD", ""},
		{"PUT", "/api/v1/view", 405, "GET, HEAD", ""},
		{"POST", "/api/v1/events", 405, "GET, HEAD", ""},
		{"POST", "/healthz", 405, "GET, HEAD", ""},
		{"PATCH", "/readyz", 405, "GET, HEAD", ""},
		{"POST", "/metrics", 405, "GET, HEAD", ""},
	} {
		check(tc)
	}
}

// TestThePageLoadsNothingFromElsewhere: every asset is embedded and served
// from the dashboard's own origin, so it works offline and air-gapped.
func TestThePageLoadsNothingFromElsewhere(t *testing.T) {
	entries, err := assets.ReadDir("assets")
	if err != nil || len(entries) == 0 {
		t.Fatal("no embedded assets", err)
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"' )]|@import|<style|style=`)
	for _, e := range entries {
		b, err := assets.ReadFile("assets/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "") // the SVG namespace is a name, not a fetch
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to %q: the page must load only its own embedded assets and need no inline style", e.Name(), m)
		}
	}
}

func TestEventsStreamEachViewAndEndOnShutdown(t *testing.T) {
	srv, src, done := server(t)
	src.set(`{"n":1}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Fatalf("Content-Type %q", got)
	}
	lines := bufio.NewScanner(resp.Body)
	event := func() string {
		t.Helper()
		var ev []string
		for lines.Scan() {
			if lines.Text() == "" {
				return strings.Join(ev, "|")
			}
			ev = append(ev, lines.Text())
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if got := event(); got != `event: view|data: {"n":1}` {
		t.Fatalf("first event %q", got)
	}
	src.set(`{"n":2}`)
	if got := event(); got != `event: view|data: {"n":2}` {
		t.Fatalf("second event %q", got)
	}
	close(done)
	for lines.Scan() {
	}
	if ctx.Err() != nil {
		t.Fatal("the stream did not end on shutdown")
	}
}
