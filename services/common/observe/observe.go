// Package observe gives every service the same logger, the same metrics
// (the process's, the build's, its Kafka client's beside its own) and the
// same HTTP endpoints: /healthz (the process is alive), /readyz (it does its
// job) and /metrics (Prometheus), on the same HTTP server: its connections
// capped and timed out, every answer with the security headers. Start sets
// all of them up at once.
package observe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/weatherstream/weather/services/common/envconfig"
)

// LogConfig is how a service logs.
type LogConfig struct {
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"` // text or json
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`  // debug, info, warn, error
}

// Config is the part of every service's configuration about being observed:
// its logs and its HTTP server (health, metrics, and the dashboard's page).
type Config struct {
	LogConfig
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// HTTPMaxConnections caps the connections served at once; more wait in
	// the kernel's queue until one closes. Each is a descriptor: 512 leaves
	// room for a dashboard's few hundred event streams (one connection each,
	// for as long as a page is open) besides probes and scrapes, and keeps
	// the process well under the usual soft limit of 1024 descriptors, with
	// the rest for its Kafka connections and files.
	HTTPMaxConnections int `env:"HTTP_MAX_CONNECTIONS" envDefault:"512"`
	// HTTPIdleTimeout closes a kept-alive connection that sends no request
	// for this long, freeing its place under the cap: long enough for a
	// Prometheus scraping every 15s to keep its connection, short enough that
	// a flood of idle connections is gone in half a minute.
	HTTPIdleTimeout time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"30s"`
}

// Validate checks the log settings.
func (c LogConfig) Validate() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	return envconfig.OneOf("LOG_FORMAT", strings.ToLower(c.LogFormat), "text", "json")
}

// Validate checks the log settings and the HTTP server's.
func (c Config) Validate() error {
	return cmp.Or(
		envconfig.Address("HTTP_ADDR", c.HTTPAddr),
		envconfig.AtLeast("HTTP_MAX_CONNECTIONS", c.HTTPMaxConnections, 1),
		// 0 would be Go's "no idle timeout": what the setting is there to end.
		envconfig.AtLeast("HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout, 100*time.Millisecond),
		c.LogConfig.Validate(),
	)
}

// NewLogger returns a structured logger writing to stderr, so stdout stays
// free for what a service prints as its output (the debug consumer's lines).
// c must be valid.
func NewLogger(c LogConfig, service string) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if strings.ToLower(c.LogFormat) == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("service", service)
}

// NewRegistry returns a Prometheus registry with the Go and process
// collectors and the service's build info.
func NewRegistry(service string) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := RegisterBuildInfo(r, service); err != nil {
		panic(err) // a fresh registry: only a second call could clash
	}
	return r
}

// RegisterBuildInfo registers weather_build_info{service, version, revision,
// goversion, …} = 1 with reg: one metric name for every service, so one
// query shows which build runs where. The registry of a service that has its
// own (the controller's, controller-runtime's) gets it this way.
func RegisterBuildInfo(reg prometheus.Registerer, service string) error {
	return prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg).
		Register(version.NewCollector("weather", version.WithExtraConstLabels(prometheus.Labels{"version": buildVersion()})))
}

// buildVersion is the main module's version as Go stamped it (a tag, a
// pseudo-version with the commit, or "(devel)"); the revision label comes
// from the VCS stamp (prometheus/common/version), "unknown" without one.
func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "unknown"
}

// Health is what /readyz reports: not ready until Ready is called.
type Health struct{ ready atomic.Bool }

// Ready marks the service ready (true) or not (false).
func (h *Health) Ready(ok bool) { h.ready.Store(ok) }

// NewMux returns the endpoints every service has, for a service that serves
// more (the dashboard) to add its own beside them. They answer GET and HEAD
// only (the mux answers other methods 405, with Allow: GET, HEAD).
func NewMux(reg *prometheus.Registry, health *Health) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !health.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// Bounds of a request, whatever it asks for: its headers arrive within
// readHeaderTimeout, all of it within readTimeout (the endpoints take no
// body), and its headers are at most maxHeaderBytes (Go's default is 1 MiB,
// per connection). No write timeout: the dashboard's event stream is one
// response for as long as its page is open.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	maxHeaderBytes    = 64 << 10
)

// ListenAndServe listens on c.HTTPAddr and serves h until ctx is done. It
// returns once listening, with the address it listens on, so a port in use
// is an error at start. At most c.HTTPMaxConnections connections are served
// at once, each closed once idle for c.HTTPIdleTimeout, and every response
// carries the security headers.
func ListenAndServe(ctx context.Context, c Config, h http.Handler, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	ln = netutil.LimitListener(ln, c.HTTPMaxConnections)
	srv := &http.Server{
		Handler:           withSecurityHeaders(h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       c.HTTPIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("serving http", "addr", ln.Addr().String(), "max_connections", c.HTTPMaxConnections, "idle_timeout", c.HTTPIdleTimeout)
	return ln.Addr(), nil
}

// securityHeaders are on every response of every service: the dashboard's
// page may load its own origin's scripts, styles and images only (no inline
// ones, no other host, no frames, no forms), no content is sniffed into
// another type, no referrer leaves, and nothing is reused without asking.
var securityHeaders = [...]struct{ name, value string }{
	{"Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-cache"},
}

// withSecurityHeaders sets the security headers on every response of h: its
// handlers', and the mux's own 404, 405 and redirects. They are set before
// h runs and again as the response is sent, since some handlers drop them
// (http.FileServer's errors delete Cache-Control).
func withSecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		h.ServeHTTP(&secureWriter{ResponseWriter: w}, r)
	})
}

func setSecurityHeaders(h http.Header) {
	for _, sh := range securityHeaders {
		h.Set(sh.name, sh.value)
	}
}

// secureWriter sets the security headers again when the response's header is
// sent.
type secureWriter struct {
	http.ResponseWriter
	sent bool
}

func (w *secureWriter) WriteHeader(code int) {
	if !w.sent {
		setSecurityHeaders(w.Header())
		w.sent = code >= 200 // an informational (1xx) header comes before the response's own
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *secureWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps the writer a Flusher, as the dashboard's event stream needs.
func (w *secureWriter) Flush() {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *secureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
