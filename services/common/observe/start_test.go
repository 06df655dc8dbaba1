package observe

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherstream/weather/services/common/observe/observetest"
	"github.com/weatherstream/weather/services/common/testkit"
)

// ownCounter is a stand-in for a service's own metrics: one counter,
// weather_<service>_things_total.
func ownCounter(service string) func(prometheus.Registerer) prometheus.Counter {
	return func(reg prometheus.Registerer) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "weather_" + service + "_things_total", Help: "Things done."})
		reg.MustRegister(c)
		return c
	}
}

// Each service's registry serves its own metrics, the build info and, once
// its client has talked to Kafka, the client's under weather_<service>_kafka_.
func TestNewMetricsServesTheServicesAndItsKafkaClients(t *testing.T) {
	cluster := testkit.Cluster(t)
	for _, service := range []string{"producer", "consumer", "debug", "dashboard"} {
		t.Run(service, func(t *testing.T) {
			reg, things, kafkaHooks := NewMetrics(service, ownCounter(service))
			if err := testkit.Client(t, cluster, kafkaHooks).Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			things.Inc()
			own := []string{"weather_build_info", "weather_" + service + "_things_total"}
			observetest.CheckServed(t, reg, service, own, "weather_"+service+"_kafka_read_bytes_total")
		})
	}
}

// get answers GET url's status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Start serves a service's health, readiness and metrics — its own, the
// build's, its Kafka client's — on the configured address, until its
// context ends.
func TestStartServesHealthAndMetrics(t *testing.T) {
	cluster := testkit.Cluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{LogConfig: LogConfig{"text", "warn"}, HTTPAddr: "127.0.0.1:0", HTTPMaxConnections: 16, HTTPIdleTimeout: time.Second}
	obs, err := Start(ctx, cfg, "producer", ownCounter("producer"))
	if err != nil {
		t.Fatal(err)
	}
	if err := testkit.Client(t, cluster, obs.KafkaHooks).Ping(ctx); err != nil {
		t.Fatal(err)
	}
	obs.Metrics.Add(3)
	base := "http://" + obs.Addr.String()
	for _, tt := range []struct {
		name     string
		ready    bool
		path     string
		wantCode int
		want     []string // lines, or the start of lines, of the body
	}{
		{"alive", false, "/healthz", 200, []string{"ok"}},
		{"not ready until it says so", false, "/readyz", 503, []string{"not ready"}},
		{"ready", true, "/readyz", 200, []string{"ok"}},
		{"metrics", true, "/metrics", 200, []string{
			"weather_producer_things_total 3",
			`weather_build_info{`,
			"weather_producer_kafka_read_bytes_total{",
			"go_goroutines ",
			"process_cpu_seconds_total ",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obs.Health.Ready(tt.ready)
			code, body := get(t, base+tt.path)
			if code != tt.wantCode {
				t.Errorf("GET %s: %d, want %d", tt.path, code, tt.wantCode)
			}
			for _, want := range tt.want {
				if !strings.HasPrefix(body, want) && !strings.Contains(body, "\n"+want) {
					t.Errorf("GET %s: no line %q in\n%s", tt.path, want, body)
				}
			}
		})
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `service="producer"`) {
		t.Errorf("the build info is not the producer's:\n%s", body)
	} else if err := observetest.LintText(body); err != nil {
		t.Error(err)
	}

	cancel()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", obs.Addr.String(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("still serving 5s after its context ended")
		}
	}
}

// A port in use is Start's error, naming the variable, rather than a
// server that never answers.
func TestStartOnAPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Config{LogConfig: LogConfig{"text", "warn"}, HTTPAddr: ln.Addr().String(), HTTPMaxConnections: 16, HTTPIdleTimeout: time.Second}
	obs, err := Start(context.Background(), cfg, "debug", ownCounter("debug"))
	if err == nil || !strings.HasPrefix(err.Error(), "HTTP_ADDR: ") || obs != nil {
		t.Errorf("Start on a port in use: %v, %v; want an HTTP_ADDR error", obs, err)
	}
}
