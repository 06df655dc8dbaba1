package service

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/process"
)

// Names are the services the bench runs, each a binary of its own.
var Names = []string{"producer", "consumer", "dashboard"}

// Path is the binary of service svc in dir.
func Path(dir, svc string) string { return filepath.Join(dir, svc) }

// Binaries start the services against the run's broker.
type Binaries struct {
	Dir                      string // where the binaries are (-bin)
	Brokers                  string
	ProducerEnv, ConsumerEnv *Env
	Processes                *process.Runner
}

// env is the environment of a service process.
func (b *Binaries) env(kv ...string) []string {
	return append([]string{"KAFKA_BROKERS=" + b.Brokers, "KAFKA_CONNECT_TIMEOUT=30s", "LOG_FORMAT=text"}, kv...)
}

// StartProducer starts a producer with the variables kv, then -producer-env.
func (b *Binaries) StartProducer(name string, kv ...string) (*process.Child, error) {
	return b.Processes.Start(name, append(b.env(kv...), b.ProducerEnv.Extra...), nil, Path(b.Dir, "producer"))
}

// StartConsumer starts a stats consumer of partitions with the variables
// kv, then -consumer-env; onLine (if set) sees each line it prints.
func (b *Binaries) StartConsumer(name string, partitions []int32, onLine func(stream, line string), kv ...string) (*process.Child, error) {
	args := make([]string, 0, len(partitions))
	for _, p := range partitions {
		args = append(args, strconv.Itoa(int(p)))
	}
	return b.Processes.Start(name, append(b.env(kv...), b.ConsumerEnv.Extra...), onLine, Path(b.Dir, "consumer"), args...)
}

// StartDashboard starts a dashboard with the variables kv.
func (b *Binaries) StartDashboard(name string, kv ...string) (*process.Child, error) {
	return b.Processes.Start(name, b.env(kv...), nil, Path(b.Dir, "dashboard"))
}

// WaitReady waits up to a minute for url (a service's /readyz) to answer
// 200, and fails at once if the service exits.
func WaitReady(ctx context.Context, c *process.Child, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !c.Running() {
			return c.ExitErr()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready after 60 s (log: %s)", c.Name, c.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
