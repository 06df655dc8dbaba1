package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// These tests are about make run's embedded broker (hack/kafka/localkafka: kfake,
// persisted), so they start one of their own whatever KAFKA_BROKERS says.

func startEmbeddedBroker(t *testing.T, addr, dir string) *proc {
	t.Helper()
	b := start(t, "localkafka", nil, "-addr", addr, "-data", dir)
	b.waitForLog("embedded Kafka broker (kfake) ready", 30*time.Second)
	return b
}

// The embedded broker SIGKILLed while the producer has a transaction open:
// kfake restores that transaction as aborted, without an abort marker, so
// the log ends in records no read committed fetch returns (and, until the
// embedded broker writes the missing marker at its start, a read committed
// reader would drop the restarted producer's records too). The restarted
// producer resumes from what the broker says the log holds, never waiting for
// a record that will not come; the topic ends as exactly the stream, and a
// stats consumer that ran across the crash counts exactly it.
func TestProducerResumesAfterTheEmbeddedBrokerWasKilledMidTransaction(t *testing.T) {
	addr, dir, stats := freeAddr(t), t.TempDir(), t.TempDir()
	broker := startEmbeddedBroker(t, addr, dir)
	at := []string{addr}
	env := []string{"KAFKA_BROKERS=" + addr, "TOPIC=temperatures", "TXN_MAX_RECORDS=1000", "TXN_MAX_INTERVAL=1h"}
	p := start(t, "producer", append(env, "INTERVAL=1ms"))
	p.waitForLog("producing", 30*time.Second)
	consumerEnv := []string{"KAFKA_BROKERS=" + addr, "TOPIC=temperatures", "DATA_DIR=" + stats, "KAFKA_CONNECT_TIMEOUT=60s"}
	consumer := start(t, "consumer", consumerEnv, "0", "1", "2", "3")
	consumer.waitForLog("consuming", 30*time.Second)

	// Kill the broker once a transaction is open with records in it, after
	// at least one committed.
	adm := kadm.NewClient(newClientAt(t, at))
	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		ends, _ := adm.ListEndOffsets(ctx, "temperatures")
		stable, _ := adm.ListCommittedOffsets(ctx, "temperatures")
		var open, committed int64
		ends.Each(func(o kadm.ListedOffset) {
			s, _ := stable.Lookup("temperatures", o.Partition)
			open += o.Offset - s.Offset
			committed += s.Offset
		})
		if committed > 0 && open >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no open transaction with records within a minute")
		}
	}
	broker.cmd.Process.Kill()
	broker.wait(10 * time.Second)
	p.cmd.Process.Kill()
	p.wait(10 * time.Second)
	consumer.cmd.Process.Kill()
	consumer.wait(10 * time.Second)

	startEmbeddedBroker(t, addr, dir)
	again := start(t, "producer", append(env, "INTERVAL=0", "COUNT=5000"))
	if code := again.wait(90 * time.Second); code != 0 {
		t.Fatalf("producer after the broker's restart exited %d:\n%s", code, tail(again.stderr.String(), 5))
	}
	if foreign := checkStream(t, at, "temperatures", 5000, seedOne); foreign != 0 {
		t.Errorf("%d records that are not the stream's", foreign)
	}
	start(t, "consumer", consumerEnv, "0", "1", "2", "3")
	want := fromGenerator(5000)
	for _, p := range allPartitions {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			f, err := readFile(t, partitionFile(stats, p))
			if err == nil && sumCounts(f) == sumExpected(want[p]) {
				equalStations(t, fmt.Sprintf("partition %d", p), f, want[p])
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: %d reports counted, want %d", p, sumCounts(f), sumExpected(want[p]))
			}
		}
	}
}

func sumCounts(f file) (n int64) {
	for _, s := range f.Stations {
		n += s.Count
	}
	return n
}

func sumExpected(m map[string]*expStation) (n int64) {
	for _, s := range m {
		n += s.Count
	}
	return n
}

// makeRun is hack/run-local.sh (make run) running on ports and a data
// directory of its own, until the test ends.
type makeRun struct {
	t       *testing.T
	data    string
	cmd     *exec.Cmd
	stderr  syncBuffer
	done    chan struct{} // closed once it ended, exitErr set
	broker  int           // the embedded broker's pid
	exitErr error
	// dashboard is the page's URL
	dashboard string
}

func startMakeRun(t *testing.T, data string) *makeRun {
	t.Helper()
	port := freePorts(t, 6) // five HTTP ports (the dashboard's first), then the broker's
	r := &makeRun{t: t, data: data, done: make(chan struct{}), dashboard: "http://127.0.0.1:" + strconv.Itoa(port) + "/"}
	r.cmd = exec.Command("bash", filepath.Join(repoRoot(t), "hack", "run-local.sh"))
	r.cmd.Env = append(os.Environ(), "BIN="+binDir, "RUN_DATA="+data, "RUN_BROKER_ADDR=127.0.0.1:"+strconv.Itoa(port+5), "RUN_HTTP_PORT="+strconv.Itoa(port))
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exitErr = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		if !r.wait(30 * time.Second) {
			_ = r.cmd.Process.Kill()
		}
	})
	for deadline := time.Now().Add(30 * time.Second); r.broker == 0; time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`embedded broker \S+ \(pid (\d+)\)`).FindStringSubmatch(r.stderr.String()); m != nil {
			r.broker, _ = strconv.Atoi(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not start:\n%s", r.stderr.String())
		}
	}
	// The pipeline works: files appear.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(data, "partition-0.json")); err == nil {
			return r
		}
		if ended := r.wait(0); ended || time.Now().After(deadline) {
			logs, _ := exec.Command("sh", "-c", "tail -n 5 "+filepath.Join(data, "logs", "*.log")).CombinedOutput()
			t.Fatalf("no partition file (make run ended: %v):\n%s\n%s", ended, r.stderr.String(), logs)
		}
	}
}

// wait reports whether make run ended within d (its error in exitErr).
func (r *makeRun) wait(d time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(d):
		return false
	}
}

// make run watches its broker: if it stops, the run says so and stops the
// services, rather than staying silent until Ctrl-C. Its ports are settings,
// so two runs (or a Kafka on 9092) can live side by side.
func TestMakeRunSaysWhenItsBrokerStops(t *testing.T) {
	r := startMakeRun(t, t.TempDir())
	_ = syscall.Kill(r.broker, syscall.SIGKILL)
	if !r.wait(40 * time.Second) {
		t.Fatalf("make run still running 40s after its broker died:\n%s", r.stderr.String())
	}
	if r.exitErr == nil || !strings.Contains(r.stderr.String(), "the embedded broker stopped") {
		t.Errorf("make run ended with %v:\n%s", r.exitErr, r.stderr.String())
	}
	if strings.Contains(r.stderr.String(), "stopped on its own") {
		t.Errorf("make run blamed a service:\n%s", r.stderr.String())
	}
}

// Stopped as Ctrl-C stops it (SIGINT in a terminal; SIGTERM here, as a
// background job ignores SIGINT), make run stops the services, then the
// broker, says so and nothing else, and exits 0. Run again, it continues the
// stream where it stopped, the last run's logs kept.
func TestMakeRunStopsCleanlyAndContinues(t *testing.T) {
	data := t.TempDir()
	r := startMakeRun(t, data)
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if !r.wait(40 * time.Second) {
		t.Fatalf("make run still running 40s after SIGTERM:\n%s", r.stderr.String())
	}
	msg := r.stderr.String()
	if r.exitErr != nil || !strings.Contains(msg, "run-local: stopped.") || strings.Contains(msg, "on its own") || strings.Contains(msg, "broker stopped") {
		t.Errorf("make run ended with %v:\n%s", r.exitErr, msg)
	}
	if syscall.Kill(r.broker, 0) == nil {
		t.Errorf("the embedded broker (pid %d) still runs", r.broker)
	}
	startMakeRun(t, data)
	previous, err := os.ReadFile(filepath.Join(data, "logs.previous", "producer.log"))
	if err != nil {
		t.Fatalf("the last run's logs are gone: %v", err)
	}
	// It continues exactly where the last run's producer said it stopped.
	next := logInt(t, string(previous), "stopped", "next_index")
	if next == 0 {
		t.Fatalf("the first run committed nothing:\n%s", previous)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		log, _ := os.ReadFile(filepath.Join(data, "logs", "producer.log"))
		if strings.Contains(string(log), "from_index=") {
			from := logInt(t, string(log), "producing", "from_index")
			t.Logf("the last run's producer stopped at index %d, this one continues from %d", next, from)
			if from != next {
				t.Errorf("the producer continues from index %d, want %d (right after the last run's):\n%s", from, next, log)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the producer did not start:\n%s", log)
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// make run prints the dashboard's URL first thing, and at that URL the page
// and the API show the running pipeline: every partition checkpointed by
// its consumer (the snapshots it publishes), the ten stations counted.
func TestMakeRunPrintsTheDashboardFirstAndItShowsThePipeline(t *testing.T) {
	r := startMakeRun(t, t.TempDir())
	if first, _, _ := strings.Cut(r.stderr.String(), "\n"); first != "run-local: the dashboard is at "+r.dashboard+"  (API: curl "+r.dashboard+"api/v1/stations)" {
		t.Errorf("make run's first line is %q, want the dashboard's URL", first)
	}
	page := httpGet(t, r.dashboard)
	if !strings.Contains(page, `<script src="/assets/app.js"`) {
		t.Errorf("the page at %s is not the dashboard:\n%.300s", r.dashboard, page)
	}
	var v struct {
		TopicID  string `json:"topic_id"`
		Complete bool   `json:"complete"`
		Stations []struct {
			Station    string  `json:"station"`
			Count      int64   `json:"count"`
			Partitions []int32 `json:"partitions"`
		} `json:"stations"`
		Partitions []struct {
			State string `json:"state"`
			Lag   *int64 `json:"lag"`
		} `json:"partitions"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := json.Unmarshal([]byte(httpGet(t, r.dashboard+"api/v1/view")), &v); err != nil {
			t.Fatal(err)
		}
		if v.Complete && len(v.Stations) == 10 && v.TopicID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard does not show the ten stations of four checkpointed partitions: %+v", v)
		}
	}
	if v.TopicID == "" || len(v.Partitions) != 4 {
		t.Errorf("topic id %q, %d partitions; want the topic's id and its four partitions", v.TopicID, len(v.Partitions))
	}
	for p, row := range v.Partitions {
		if row.State != "ok" || row.Lag == nil || *row.Lag < 0 {
			t.Errorf("partition %d: %+v; want ok (its consumer's snapshot), a lag >= 0", p, row)
		}
	}
	for _, s := range v.Stations {
		if s.Count < 1 || len(s.Partitions) != 1 {
			t.Errorf("%s: %+v; want counted, in one partition", s.Station, s)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}
