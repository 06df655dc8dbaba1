package observe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/envconfig"
)

func TestValidate(t *testing.T) {
	good := Config{LogConfig: LogConfig{"text", "info"}, HTTPAddr: ":8080", HTTPMaxConnections: 512, HTTPIdleTimeout: 30 * time.Second}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"json, any port", func(c *Config) { c.LogFormat, c.LogLevel, c.HTTPAddr = "JSON", "debug", "127.0.0.1:0" }, ""},
		{"log format", func(c *Config) { c.LogFormat = "fancy" }, `LOG_FORMAT is "fancy"`},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, `LOG_LEVEL "loud"`},
		{"no port", func(c *Config) { c.HTTPAddr = "8080" }, `HTTP_ADDR "8080"`},
		{"port not a number", func(c *Config) { c.HTTPAddr = ":notaport" }, `HTTP_ADDR ":notaport": want [host]:port, the port a number from 0 to 65535`},
		{"port too large", func(c *Config) { c.HTTPAddr = ":99999" }, `HTTP_ADDR ":99999"`},
		{"one connection", func(c *Config) { c.HTTPMaxConnections = 1 }, ""},
		{"no connections", func(c *Config) { c.HTTPMaxConnections = 0 }, "HTTP_MAX_CONNECTIONS is 0: want at least 1"},
		{"negative connections", func(c *Config) { c.HTTPMaxConnections = -1 }, "HTTP_MAX_CONNECTIONS is -1"},
		{"no idle timeout", func(c *Config) { c.HTTPIdleTimeout = 0 }, "HTTP_IDLE_TIMEOUT is 0s: want at least 100ms"},
		{"negative idle timeout", func(c *Config) { c.HTTPIdleTimeout = -time.Second }, "HTTP_IDLE_TIMEOUT is -1s"},
		{"shortest idle timeout", func(c *Config) { c.HTTPIdleTimeout = 100 * time.Millisecond }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate(%+v) = %v, want %q", c, err, tt.wantErr)
			}
		})
	}
}

// The defaults, as a service reads them from an empty environment, are valid.
func TestConfigDefaults(t *testing.T) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.HTTPMaxConnections != 512 || c.HTTPIdleTimeout != 30*time.Second {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults are invalid: %v", err)
	}
}

// serve starts ListenAndServe on a free loopback port with h and returns
// its base URL; it stops with the test.
func serve(t *testing.T, c Config, h http.Handler) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.HTTPAddr = "127.0.0.1:0"
	addr, err := ListenAndServe(ctx, c, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr.String()
}

// keptAlive is a client connection that sent one request, read the answer,
// and now sends nothing: what a browser or a scraper leaves open.
type keptAlive struct {
	conn       net.Conn
	r          *bufio.Reader
	answeredAt time.Time
}

// openKeptAlive connects to addr and sends GET /healthz, without waiting for
// the answer: the server may not have accepted the connection yet.
func openKeptAlive(t *testing.T, addr string) *keptAlive {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return &keptAlive{conn: conn, r: bufio.NewReader(conn)}
}

// answered waits up to timeout for the answer to the request; false if none
// came by then.
func (k *keptAlive) answered(t *testing.T, timeout time.Duration) bool {
	t.Helper()
	k.conn.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(k.r, nil)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("answer %d (close %v), %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close, err)
	}
	k.answeredAt = time.Now()
	return true
}

// closedByServer waits up to timeout for the server to close the
// connection, and returns how long it was idle: since its answer.
func (k *keptAlive) closedByServer(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	k.conn.SetReadDeadline(time.Now().Add(timeout))
	if n, err := k.r.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d bytes, %v; want the server to close it (EOF) within %s", n, err, timeout)
	}
	return time.Since(k.answeredAt)
}

// More idle keep-alive connections than the cap: only the cap's worth are
// served at once; each is closed by the server once idle for the idle
// timeout; the next ones, and then a new client, are answered in turn.
func TestIdleConnectionsAreClosedAndDoNotLockOthersOut(t *testing.T) {
	const limit, idle = 3, 400 * time.Millisecond
	c := Config{HTTPMaxConnections: limit, HTTPIdleTimeout: idle}
	base := serve(t, c, NewMux(prometheus.NewRegistry(), &Health{}))
	addr := strings.TrimPrefix(base, "http://")

	first := make([]*keptAlive, limit)
	for i := range first {
		first[i] = openKeptAlive(t, addr)
		if !first[i].answered(t, 5*time.Second) {
			t.Fatalf("connection %d of %d not answered", i+1, limit)
		}
	}
	// Over the cap: the connection waits, unanswered, while the others idle.
	waiting := make([]*keptAlive, limit)
	for i := range waiting {
		waiting[i] = openKeptAlive(t, addr)
	}
	if waiting[0].answered(t, idle/2) {
		t.Fatalf("a connection over the cap of %d was answered while %d others were open", limit, limit)
	}
	// The server closes the idle ones after the idle timeout, not before.
	for i, k := range first {
		if idled := k.closedByServer(t, 3*time.Second); idled < idle*3/4 {
			t.Errorf("idle connection %d closed after %s idle, before the idle timeout %s", i+1, idled, idle)
		}
	}
	// Their places go to the waiting ones, and then to a new client.
	for i, k := range waiting {
		if !k.answered(t, 5*time.Second) {
			t.Fatalf("waiting connection %d not answered once the idle ones were closed", i+1)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("a new client, after %d idle connections over a cap of %d: %v", 2*limit, limit, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a new client: %d", resp.StatusCode)
	}
	for _, k := range waiting {
		k.closedByServer(t, 3*time.Second)
	}
}

// wantSecurityHeaders are the headers every response must carry.
var wantSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-cache",
}

// headerCase is a request and what it must get.
type headerCase struct {
	method, path string
	code         int
	allow        string // the Allow header of a 405
	location     string // the Location of a redirect
}

// checkHeaders sends each case's request to base (redirects not followed)
// and checks its status and every security header.
func checkHeaders(t *testing.T, base string, cases []headerCase) {
	t.Helper()
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			for name, want := range wantSecurityHeaders {
				if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow: %q, want %q", got, tc.allow)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location: %q, want %q", got, tc.location)
			}
		})
	}
}

// /healthz, /readyz and /metrics answer GET and HEAD only, and every
// response of the server, the mux's own 404, 405 and redirects included,
// carries the security headers.
func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	var ready, notReady Health
	ready.Ready(true)
	cfg := Config{HTTPMaxConnections: 16, HTTPIdleTimeout: time.Second}
	for _, tt := range []struct {
		name   string
		health *Health
		cases  []headerCase
	}{
		{"ready", &ready, []headerCase{
			{"GET", "/healthz", 200, "", ""},
			{"HEAD", "/healthz", 200, "", ""},
			{"GET", "/readyz", 200, "", ""},
			{"HEAD", "/readyz", 200, "", ""},
			{"GET", "/metrics", 200, "", ""},
			{"HEAD", "/metrics", 200, "", ""},
			{"POST", "/healthz", 405, "GET, HEAD", ""},
			{"PUT", "/readyz", 405, "GET, HEAD", ""},
			{"DELETE", "/metrics", 405, "GET, HEAD", ""},
			{"OPTIONS", "/metrics", 405, "GET, HEAD", ""},
			{"GET", "/", 404, "", ""},
			{"GET", "/healthz/", 404, "", ""},
			{"POST", "/nothing", 404, "", ""},
			{"GET", "/x/../healthz", 307, "", "/healthz"},
		}},
		{"not ready", &notReady, []headerCase{
			{"GET", "/readyz", 503, "", ""},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkHeaders(t, serve(t, cfg, NewMux(prometheus.NewRegistry(), tt.health)), tt.cases)
		})
	}
}

// A handler that deletes a header (http.FileServer's errors delete
// Cache-Control) or writes without WriteHeader still sends them all, and an
// event stream can still be flushed.
func TestSecureHeadersOutlastTheHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /deletes", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Del("Cache-Control")
		w.Header().Del("Content-Security-Policy")
		http.Error(w, "gone", http.StatusGone)
	})
	mux.HandleFunc("GET /writes", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Del("Referrer-Policy")
		fmt.Fprintln(w, "body")
	})
	mux.HandleFunc("GET /silent", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /flushes", func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			http.Error(w, "not a Flusher", http.StatusInternalServerError)
			return
		}
		w.Header().Del("X-Content-Type-Options")
		w.(http.Flusher).Flush()
	})
	base := serve(t, Config{HTTPMaxConnections: 16, HTTPIdleTimeout: time.Second}, mux)
	checkHeaders(t, base, []headerCase{
		{"GET", "/deletes", 410, "", ""},
		{"GET", "/writes", 200, "", ""},
		{"GET", "/silent", 200, "", ""},
		{"GET", "/flushes", 200, "", ""},
	})
}
