package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/embeddedkafka"
	"github.com/weatherstream/weather/services/common/testkit"
)

var (
	brokers []string
	binDir  string                // where the binaries are built
	bin     = map[string]string{} // service name -> built binary
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "weather-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binDir = tmp
	for svc, pkg := range map[string]string{
		"producer": "services/producer", "consumer": "services/consumer", "debug": "services/debug",
		"dashboard": "services/dashboard", "localkafka": "hack/kafka/localkafka", // the embedded broker of make run
	} {
		bin[svc] = filepath.Join(tmp, svc)
		build := exec.Command("go", "build", "-o", bin[svc], "github.com/weatherstream/weather/"+pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", svc, err)
			return 1
		}
	}
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		brokers = strings.Split(env, ",")
		fmt.Fprintf(os.Stderr, "integration: broker %s (KAFKA_BROKERS)\n", env)
	} else {
		cluster, err := embeddedkafka.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		fmt.Fprintf(os.Stderr, "integration: in-process kfake broker %s (KAFKA_BROKERS unset)\n", brokers[0])
	}
	return m.Run()
}

func newClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClientAt(t, brokers, opts...)
}

// newClientAt is a client of another broker than the suite's.
func newClientAt(t testing.TB, at []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(at...), kgo.MetadataMinAge(250 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newAdmin(t testing.TB) *kadm.Client { return kadm.NewClient(newClient(t)) }

// newTopic names a topic of its own for a test; the producer creates it.
func newTopic(t testing.TB) string {
	t.Helper()
	name := topicName(t, "it")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kadm.NewClient(newClient(t)).DeleteTopic(ctx, name)
	})
	return name
}

// topicName is a topic name of the test's own: prefix, the test's name in
// Kafka's topic characters, and a random number.
func topicName(t testing.TB, prefix string) string {
	legal := func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}
	name := fmt.Sprintf("%s-%s-%d", prefix, strings.Map(legal, t.Name()), rand.IntN(1e9))
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freePorts(t, 1))
}

// freePorts returns the first of n consecutive free loopback ports. They are
// below the kernel's ephemeral range (from 32768) where ":0" would pick one,
// so no outgoing connection takes one between now and its use.
func freePorts(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 1000; try++ {
		first := 20000 + rand.IntN(12000)
		ok := true
		for p := first; ok && p < first+n; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return first
		}
	}
	t.Fatal("no free ports")
	return 0
}

// proc is a running service binary with its output captured.
type proc struct {
	t        testing.TB
	name     string
	cmd      *exec.Cmd
	stdout   syncBuffer
	stderr   syncBuffer
	done     chan struct{}
	exitCode int
	httpAddr string
}

// syncBuffer is the shared one under the name this package's tests use.
type syncBuffer = testkit.Buffer

// start runs a service with the broker, a free HTTP port and env (KEY=VALUE).
func start(t testing.TB, svc string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: svc, done: make(chan struct{}), httpAddr: freeAddr(t)}
	p.cmd = exec.Command(bin[svc], args...)
	p.cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS="+strings.Join(brokers, ","),
		"HTTP_ADDR="+p.httpAddr,
		"KAFKA_CONNECT_TIMEOUT=20s",
	)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.exitCode = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s %v stderr:\n%s", svc, args, tail(p.stderr.String(), 40))
		}
	})
	return p
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within %s; stderr:\n%s", p.name, timeout, tail(p.stderr.String(), 30))
		return -1
	}
}

// terminate sends SIGTERM, as Kubernetes and Ctrl-C do.
func (p *proc) terminate() { _ = p.cmd.Process.Signal(syscall.SIGTERM) }

// waitForLog waits until the process's stderr contains s.
func (p *proc) waitForLog(s string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) || !p.running() && !strings.Contains(p.stderr.String(), s) {
			p.t.Fatalf("%s: no %q in its log within %s (running: %v); stderr:\n%s", p.name, s, timeout, p.running(), tail(p.stderr.String(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// produce runs the producer to completion: the topic then holds the stream's
// reports 0..count-1.
func produce(t testing.TB, topic string, count int64, env ...string) {
	t.Helper()
	p := start(t, "producer", append([]string{"TOPIC=" + topic, "INTERVAL=0", fmt.Sprintf("COUNT=%d", count)}, env...))
	if code := p.wait(3 * time.Minute); code != 0 {
		t.Fatalf("producer exited %d:\n%s", code, tail(p.stderr.String(), 20))
	}
}

// endOffsets returns each partition's end offset once the log is settled: no
// transaction is open or still writing its markers. (A real broker answers
// EndTxn before it has written the markers, so right after the producer exits
// the end offsets can still grow by one marker each.)
func endOffsets(t testing.TB, topic string) map[int32]int64 {
	t.Helper()
	return endOffsetsAt(t, brokers, topic)
}

func endOffsetsAt(t testing.TB, at []string, topic string) map[int32]int64 {
	t.Helper()
	return settledEndOffsets(t, kadm.NewClient(newClientAt(t, at)), topic)
}

// settledEndOffsets are the end offsets once no transaction is open on them.
func settledEndOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		stable, serr := adm.ListCommittedOffsets(ctx, topic)
		if err == nil && serr == nil {
			err = stable.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		m, settled := map[int32]int64{}, true
		ends.Each(func(o kadm.ListedOffset) {
			m[o.Partition] = o.Offset
			if s, _ := stable.Lookup(topic, o.Partition); s.Offset != o.Offset {
				settled = false
			}
		})
		if settled {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fileStation and file are a partition file as any JSON reader sees it.
type fileStation struct {
	Count int64   `json:"count"`
	Sum   float64 `json:"sum"`
	Avg   float64 `json:"avg"`
	Start string  `json:"start"`
	End   string  `json:"end"`
}

type file struct {
	Offset   int64
	Log      *fileLog
	Stations map[string]fileStation
}

type fileLog struct {
	Topic     string `json:"topic"`
	TopicID   string `json:"topic_id"`
	Partition int32  `json:"partition"`
}

// readFile reads a partition file the original assignment's way — every
// key but "offset" is a station with the five fields, nothing else — and
// the log named beside it (partition-N.log), if any.
func readFile(t testing.TB, path string) (file, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return file{}, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return file{}, fmt.Errorf("%s: %w", path, err)
	}
	f := file{Stations: map[string]fileStation{}}
	for k, v := range raw {
		if k == "offset" {
			if err := json.Unmarshal(v, &f.Offset); err != nil {
				return file{}, err
			}
			continue
		}
		var s fileStation
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return file{}, fmt.Errorf("%s: key %q is not a station: %w", path, k, err)
		}
		f.Stations[k] = s
	}
	if data, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".log"); err == nil {
		if err := json.Unmarshal(data, &f.Log); err != nil {
			return file{}, fmt.Errorf("%s's log: %w", path, err)
		}
	}
	return f, nil
}

func partitionFile(dir string, p int32) string {
	return filepath.Join(dir, fmt.Sprintf("partition-%d.json", p))
}

// waitCaughtUp waits until each partition's file in dir has the partition's
// end offset.
func waitCaughtUp(t testing.TB, dir, topic string, parts []int32, timeout time.Duration) {
	t.Helper()
	waitFilesAt(t, dir, endOffsets(t, topic), parts, timeout)
}

// waitFilesAt waits until each partition's file in dir has the offset ends gives.
func waitFilesAt(t testing.TB, dir string, ends map[int32]int64, parts []int32, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, p := range parts {
		for {
			f, err := readFile(t, partitionFile(dir, p))
			if err == nil && f.Offset == ends[p] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: file offset %d (err %v), want end offset %d within %s", p, f.Offset, err, ends[p], timeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// equalStations compares a file's stations with an expectation, sums exactly.
func equalStations(t testing.TB, what string, got file, want map[string]*expStation) {
	t.Helper()
	if len(got.Stations) != len(want) {
		t.Errorf("%s: %d stations, want %d (%v)", what, len(got.Stations), len(want), got.Stations)
	}
	for name, w := range want {
		g, ok := got.Stations[name]
		if !ok {
			t.Errorf("%s: no %s", what, name)
			continue
		}
		if g.Count != w.Count || g.Sum != w.Sum || g.Avg != w.Sum/float64(w.Count) || g.Start != w.Start || g.End != w.End {
			t.Errorf("%s %s: got %+v, want count %d sum %v avg %v start %s end %s",
				what, name, g, w.Count, w.Sum, w.Sum/float64(w.Count), w.Start, w.End)
		}
	}
}
