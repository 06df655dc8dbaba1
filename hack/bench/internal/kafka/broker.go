// Package kafka is the bench's Kafka: a real Apache Kafka broker started
// with hack/kafka/kafka.sh for the run, its jars and version, and the
// look-ups and topic chores the measurements ask of it (Admin).
package kafka

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
)

// Script is hack/kafka/kafka.sh: the broker, the jars, Kafka's tools.
func Script(repo string) string { return filepath.Join(repo, "hack", "kafka", "kafka.sh") }

// LibsHome is the KAFKA_HOME whose libs/ hold the Kafka jars: $KAFKA_HOME,
// else the usual one of the repository.
func LibsHome(repo string) string {
	if h := os.Getenv("KAFKA_HOME"); h != "" {
		return h
	}
	return filepath.Join(repo, ".cache", "kafka")
}

// Version is the version in hack/kafka/pom.xml.
func Version(repo string) string {
	data, err := os.ReadFile(filepath.Join(repo, "hack", "kafka", "pom.xml"))
	if err != nil {
		return "?"
	}
	if m := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return "?"
}

// Install installs the Kafka jars into LibsHome if needed (Maven Central,
// once), onLine (if set) seeing each line kafka.sh prints.
func Install(ctx context.Context, procs *process.Runner, repo string, onLine func(stream, line string), log *progress.Log) error {
	install, err := procs.Start("kafka-install", []string{"KAFKA_HOME=" + LibsHome(repo)}, onLine, Script(repo), "install")
	if err != nil {
		return err
	}
	if err := install.Follow(ctx, 15*time.Second, 20*time.Minute, func(d time.Duration) {
		log.Printf("kafka: still installing the jars (%s) ...", d.Round(time.Second))
	}); err != nil {
		return err
	}
	return install.ExitErr()
}

// Broker is a broker the bench started.
type Broker struct {
	Addr string // its bootstrap address
	PID  int    // its process; 0 if unknown

	repo string
	env  []string
	log  *progress.Log
}

// Start starts a real Apache Kafka broker with kafka.sh, in a KAFKA_HOME of
// the bench's own (so a broker of `make test-kafka` or of another engineer
// keeps running), sharing the jars of the usual one.
func Start(ctx context.Context, repo string, procs *process.Runner, log *progress.Log) (*Broker, error) {
	log.Printf("kafka: installing the Kafka %s jars if needed (Maven Central, once) ...", Version(repo))
	if err := Install(ctx, procs, repo, nil, log); err != nil {
		return nil, err
	}
	home := filepath.Join(repo, ".cache", "bench", "kafka")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	libs := filepath.Join(home, "libs")
	if fi, err := os.Lstat(libs); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		os.Remove(libs) // a symlink from an earlier run
		abs, err := filepath.Abs(filepath.Join(LibsHome(repo), "libs"))
		if err != nil {
			return nil, err
		}
		if err := os.Symlink(abs, libs); err != nil {
			return nil, err
		}
	}
	b := &Broker{repo: repo, env: []string{"KAFKA_HOME=" + home}, log: log}
	// A broker an interrupted bench left running is ours: stop it first.
	_, _ = process.RunQuiet(ctx, repo, b.env, Script(repo), "stop")
	log.Printf("kafka: starting a broker (KRaft, single node) ...")
	out, err := process.RunQuiet(ctx, repo, b.env, Script(repo), "start")
	if err != nil {
		return nil, err
	}
	b.Addr = strings.TrimSpace(out)
	// kafka.sh's "current": the address, then the data dir holding kafka.pid.
	if cur, err := os.ReadFile(filepath.Join(home, "current")); err == nil {
		if lines := strings.Split(string(cur), "\n"); len(lines) > 1 {
			pid, _ := os.ReadFile(filepath.Join(lines[1], "kafka.pid"))
			b.PID, _ = strconv.Atoi(strings.TrimSpace(string(pid)))
		}
	}
	return b, nil
}

// Stop stops the broker.
func (b *Broker) Stop() {
	b.log.Printf("kafka: stopping the broker ...")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := process.RunQuiet(ctx, b.repo, b.env, Script(b.repo), "stop"); err != nil {
		b.log.Printf("kafka: stop: %v", err)
	}
}
