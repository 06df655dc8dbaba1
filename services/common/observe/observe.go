// Package observe gives every service the same logger and the same HTTP
// endpoints: /healthz (the process is alive), /readyz (it does its job) and
// /metrics (Prometheus).
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

	"github.com/weatherstream/weather/services/common/envconfig"
)

// LogConfig is how a service logs.
type LogConfig struct {
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"` // text or json
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`  // debug, info, warn, error
}

// Config is the part of every service's configuration about being observed:
// its logs and the address of its health and metrics endpoints.
type Config struct {
	LogConfig
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
}

// Validate checks the log settings.
func (c LogConfig) Validate() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	return envconfig.OneOf("LOG_FORMAT", strings.ToLower(c.LogFormat), "text", "json")
}

// Validate checks the log settings and the HTTP address.
func (c Config) Validate() error {
	return cmp.Or(envconfig.Address("HTTP_ADDR", c.HTTPAddr), c.LogConfig.Validate())
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

// Serve listens on c.HTTPAddr and serves the endpoints until ctx is done. It
// returns once listening, so a port in use is an error at start.
func Serve(ctx context.Context, c Config, reg *prometheus.Registry, health *Health, log *slog.Logger) error {
	_, err := ListenAndServe(ctx, c, NewMux(reg, health), log)
	return err
}

// NewMux returns the endpoints every service has, for a service that serves
// more (the dashboard) to add its own beside them.
func NewMux(reg *prometheus.Registry, health *Health) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !health.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// ListenAndServe listens on c.HTTPAddr and serves h until ctx is done; like
// Serve, it returns once listening, with the address it listens on.
func ListenAndServe(ctx context.Context, c Config, h http.Handler, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
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
	log.Info("serving http", "addr", ln.Addr().String())
	return ln.Addr(), nil
}
