package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/verify"
)

// A second broker started on a log directory a broker already uses is
// refused, and the first goes on as if nothing happened: nothing of its open
// transaction aborted, nothing of its log moved. On make run's embedded
// broker (the directory's flock) and on real Kafka (its own .lock).
func TestSecondBrokerOnALogDirectoryIsRefused(t *testing.T) {
	t.Run("embedded broker", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		startEmbeddedBroker(t, addr, dir)
		topic := topicName(t, "logdir")
		env := []string{"KAFKA_BROKERS=" + addr, "TOPIC=" + topic, "TXN_MAX_INTERVAL=1h", "TXN_MAX_RECORDS=100000"}
		p := start(t, "producer", append(env, "INTERVAL=1ms", "COUNT=3000"))
		p.waitForLog("producing", 30*time.Second)
		time.Sleep(200 * time.Millisecond) // a transaction open, with records in it

		second := start(t, "localkafka", nil, "-addr", freeAddr(t), "-data", dir)
		if code := second.wait(30 * time.Second); code != 2 ||
			!strings.Contains(second.stderr.String(), "log directory in use: the embedded broker pid") ||
			!strings.Contains(second.stderr.String(), "one broker per log directory") {
			t.Fatalf("a second broker on the same directory exited %d, want 2 with the holder named:\n%s", code, second.stderr.String())
		}
		if code := p.wait(time.Minute); code != 0 {
			t.Fatalf("the first broker's producer exited %d:\n%s", code, tail(p.stderr.String(), 10))
		}
		if foreign := checkStream(t, []string{addr}, topic, 3000, seedOne); foreign != 0 {
			t.Errorf("%d records that are not the stream's", foreign)
		}
	})
	t.Run("real Kafka", func(t *testing.T) {
		if os.Getenv("KAFKA_BROKERS") == "" && os.Getenv("CI") == "" {
			t.Skip("real Kafka: runs with KAFKA_BROKERS (make test-kafka, CI)")
		}
		root := repoRoot(t)
		kafka := func(env []string, args ...string) *exec.Cmd {
			cmd := exec.Command(filepath.Join(root, "hack", "kafka", "kafka.sh"), args...)
			cmd.Env = append(os.Environ(), append(env, "KAFKA_INSTANCE=logdir")...)
			return cmd
		}
		out, err := kafka(nil, "start").Output()
		if err != nil {
			t.Fatalf("start a real broker: %v", err)
		}
		t.Cleanup(func() { _ = kafka(nil, "stop").Run() })
		addr := strings.TrimSpace(string(out))
		current, err := os.ReadFile(filepath.Join(root, ".cache", "kafka", "current-logdir"))
		if err != nil {
			t.Fatal(err)
		}
		dir := strings.Split(strings.TrimSpace(string(current)), "\n")[1]
		topic := topicName(t, "logdir")
		env := []string{"KAFKA_BROKERS=" + addr, "TOPIC=" + topic}
		produce(t, topic, 1000, env...)

		// A second broker on the same log directory, as our tooling starts
		// brokers: refused before it starts. (Started by hand, Kafka 4.1.1
		// refuses it too, with "Failed to acquire lock" — but only after its
		// KRaft controller wrote to the shared metadata log, and the first
		// broker then never reaches its controller again: seen here.)
		second := exec.Command(filepath.Join(root, "hack", "kafka", "kafka.sh"), "start")
		second.Env = append(os.Environ(), "KAFKA_INSTANCE=logdir-second", "KAFKA_DATA_DIR="+dir)
		t.Cleanup(func() {
			stop := exec.Command(second.Path, "stop")
			stop.Env = second.Env
			_ = stop.Run()
		})
		var output syncBuffer
		second.Stdout, second.Stderr = &output, &output
		if err := second.Run(); err == nil || !strings.Contains(output.String(), "is in use by the broker of pid") {
			t.Fatalf("a second broker on the same log directory: %v, want a refusal naming the first:\n%s", err, output.String())
		}
		produce(t, topic, 2000, env...)
		if foreign := checkStream(t, []string{addr}, topic, 2000, seedOne); foreign != 0 {
			t.Errorf("%d records that are not the stream's", foreign)
		}
	})
}

// A second make run on the same RUN_DATA (other ports) is refused with one
// line and exit 2 before it touches anything: the first run's logs stay
// where they are, its pipeline goes on, and once it stops its files equal
// the committed stream, every report once.
func TestSecondMakeRunOnTheSameDataIsRefused(t *testing.T) {
	data := t.TempDir()
	first := startMakeRun(t, data)
	firstLog, err := os.ReadFile(filepath.Join(data, "logs", "broker.log"))
	if err != nil {
		t.Fatal(err)
	}

	second := startMakeRunExpectingExit(t, data)
	if second.exitErr == nil || second.cmd.ProcessState.ExitCode() != 2 ||
		!strings.Contains(second.stderr.String(), "log directory in use") {
		t.Fatalf("a second make run on the same data ended with %v, want exit 2 naming the directory's broker:\n%s", second.exitErr, second.stderr.String())
	}
	if got, _ := os.ReadFile(filepath.Join(data, "logs", "broker.log")); !strings.HasPrefix(string(got), string(firstLog)) {
		t.Errorf("the first run's broker.log was replaced:\n%s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(data, "logs.*")); len(left) > 0 {
		t.Errorf("the second run left %v", left)
	}
	// The first run goes on.
	before := progress(t, data)
	for deadline := time.Now().Add(30 * time.Second); progress(t, data) <= before; time.Sleep(100 * time.Millisecond) {
		if first.wait(0) || time.Now().After(deadline) {
			t.Fatalf("the first run stopped advancing (ended: %v):\n%s", first.wait(0), first.stderr.String())
		}
	}
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	if !first.wait(40 * time.Second) {
		t.Fatal("the first make run did not stop")
	}

	// Its topic, read again: every file = the committed stream at its offset.
	addr := freeAddr(t)
	startEmbeddedBroker(t, addr, filepath.Join(data, "kafka"))
	files, err := verify.ReadFiles(data, 4)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := verify.Count(ctx, []kgo.Opt{kgo.SeedBrokers(addr)}, "temperatures", verify.Offsets(files), 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := verify.Compare(files, rc); len(d) > 0 || len(rc.StreamErrors) > 0 {
		t.Errorf("the first run's files and topic: %v %v", d, rc.StreamErrors)
	}
}

// startMakeRunExpectingExit runs make run on data with ports of its own and
// waits for it to end by itself (within a minute).
func startMakeRunExpectingExit(t *testing.T, data string) *makeRun {
	t.Helper()
	port := freePorts(t, 6)
	r := &makeRun{t: t, data: data, done: make(chan struct{})}
	r.cmd = exec.Command("bash", filepath.Join(repoRoot(t), "hack", "run-local.sh"))
	r.cmd.Env = append(os.Environ(), "BIN="+binDir, "RUN_DATA="+data, "RUN_BROKER_ADDR=127.0.0.1:"+strconv.Itoa(port+5), "RUN_HTTP_PORT="+strconv.Itoa(port))
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exitErr = r.cmd.Wait(); close(r.done) }()
	if !r.wait(time.Minute) {
		_ = r.cmd.Process.Kill()
		t.Fatalf("make run on a data directory in use still runs after a minute:\n%s", r.stderr.String())
	}
	return r
}

// The embedded broker's disk full: the producer's error points at the
// broker's log, and the log says it (no space left on device); stopped with
// the disk still full, the broker leaves no temporary file of a failed write
// behind; once space is freed and the broker restarted, the producer resumes
// and the topic is exactly the stream.
// Needs root for a small tmpfs.
func TestFullDiskUnderTheEmbeddedBrokerIsSaidAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a small tmpfs (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a small tmpfs (needs root, as in CI): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	addr := freeAddr(t)
	broker := startEmbeddedBroker(t, addr, dir)
	env := []string{"KAFKA_BROKERS=" + addr, "TOPIC=temperatures", "INTERVAL=0", "PRODUCE_COMPRESSION=none"}

	p := start(t, "producer", append(env, "COUNT=1000000"))
	if code := p.wait(time.Minute); code != 1 ||
		!strings.Contains(p.stderr.String(), "UNKNOWN_SERVER_ERROR") ||
		!strings.Contains(p.stderr.String(), "its log says why, e.g. a full disk under its log directory") {
		t.Fatalf("producer on a full broker disk exited %d, want 1 pointing at the broker's log:\n%s", code, tail(p.stderr.String(), 5))
	}
	if !strings.Contains(broker.stderr.String(), "no space left on device") {
		t.Fatalf("the broker's log does not say its disk is full:\n%s", tail(broker.stderr.String(), 10))
	}

	// Stopped with the disk still full, it cannot save its state: what it
	// began writing is removed, not left behind.
	broker.terminate()
	if code := broker.wait(30 * time.Second); code != 0 {
		t.Fatalf("broker exited %d after SIGTERM", code)
	}
	var temps []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp") {
			temps = append(temps, path)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporary files of failed writes left behind: %v", temps)
	}
	if !strings.Contains(broker.stderr.String(), "removed temporary files of writes that failed") {
		t.Errorf("the broker did not say it removed the files of its failed writes:\n%s", tail(broker.stderr.String(), 5))
	}

	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatal(err)
	}
	startEmbeddedBroker(t, addr, dir)
	produce(t, "temperatures", 200_000, env...)
	if foreign := checkStream(t, []string{addr}, "temperatures", 200_000, seedOne); foreign != 0 {
		t.Errorf("%d records that are not the stream's", foreign)
	}
}

// SIGTERM while the broker is down: the producer gives its last commit
// stream.StopGrace (10 s), then stops cleanly (exit 0), saying which reports
// are not committed; with the broker back, it resumes right after the last
// committed report and the topic is exactly the stream.
func TestProducerStopsPromptlyAndCleanlyWithTheBrokerDown(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	broker := startEmbeddedBroker(t, addr, dir)
	env := []string{"KAFKA_BROKERS=" + addr, "TOPIC=temperatures"}
	p := start(t, "producer", append(env, "INTERVAL=1ms"))
	p.waitForLog("producing", 30*time.Second)
	time.Sleep(500 * time.Millisecond) // some committed, a transaction open
	_ = broker.cmd.Process.Kill()
	broker.wait(10 * time.Second)

	stopped := time.Now()
	p.terminate()
	code := p.wait(30 * time.Second)
	took := time.Since(stopped)
	if code != 0 || took > 15*time.Second || !strings.Contains(p.stderr.String(), "stopped before the open transaction was committed") {
		t.Fatalf("producer stopped with the broker down: exit %d after %s, want 0 within 15s saying what is not committed:\n%s", code, took.Round(time.Millisecond), tail(p.stderr.String(), 5))
	}
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))

	startEmbeddedBroker(t, addr, dir)
	produce(t, "temperatures", 5000, env...)
	if foreign := checkStream(t, []string{addr}, "temperatures", 5000, seedOne); foreign != 0 {
		t.Errorf("%d records that are not the stream's", foreign)
	}
}
