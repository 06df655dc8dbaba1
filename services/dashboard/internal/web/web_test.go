package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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

func server(t *testing.T) (*httptest.Server, *source, chan struct{}) {
	t.Helper()
	src := &source{}
	done := make(chan struct{})
	mux := http.NewServeMux()
	Register(mux, src, done)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			close(done)
		}
		srv.Close()
	})
	return srv, src, done
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
		req, _ := http.NewRequest(method, srv.URL+path, nil)
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
		if tc.code == 200 && resp.header.Get("Content-Security-Policy") != csp {
			t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, resp.header.Get("Content-Security-Policy"))
		}
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
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events", nil)
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
