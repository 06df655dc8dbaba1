package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bad configuration, settings that cannot work included: one line on
// stderr naming the variable and what it allows, exit 2, before anything
// touches the broker or the disk.
func TestBadConfigIsOneClearError(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ca.pem") // a FIFO no one writes: reading it would block for ever
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		svc  string
		env  []string
		args []string
		want string
	}{
		{"consumer", nil, []string{"zero"}, `partition "zero"`},
		{"consumer", nil, nil, "no partitions"},
		{"consumer", []string{"ON_OFFSET_OUT_OF_RANGE=maybe"}, []string{"0"}, `ON_OFFSET_OUT_OF_RANGE is "maybe": want fail or restart`},
		{"consumer", []string{"LOCK_WAIT=soon"}, []string{"0"}, "LOCK_WAIT"},
		{"consumer", []string{"LOCK_WAIT=-5s"}, []string{"0"}, "LOCK_WAIT is -5s: want at least 0s"},
		{"consumer", []string{"FETCH_MAX_PARTITION_BYTES=-1"}, []string{"0"}, "FETCH_MAX_PARTITION_BYTES is -1: want at least 1"},
		{"consumer", []string{"FETCH_MAX_BYTES=0"}, []string{"0"}, "FETCH_MAX_BYTES is 0: want at least 1"},
		{"consumer", []string{"CHECKPOINT_INTERVAL=-1s"}, []string{"0"}, "CHECKPOINT_INTERVAL is -1s"},
		{"consumer", []string{"CHECKPOINT_RETRIES=-1"}, []string{"0"}, "CHECKPOINT_RETRIES is -1"},
		{"consumer", []string{"PARTITIONS_BY_ORDINAL=0,2;2", "POD_INDEX=0"}, nil, "gives partition 2 to ordinals 0 and 1"},
		{"consumer", []string{"KAFKA_BROKERS="}, []string{"0"}, "KAFKA_BROKERS is set but empty"},
		{"producer", []string{"COUNT=-5"}, nil, "COUNT is -5"},
		{"producer", []string{"INTERVAL=fast"}, nil, "INTERVAL"},
		{"producer", []string{"PRODUCE_RETRIES=-1"}, nil, "PRODUCE_RETRIES is -1"},
		{"producer", []string{"TRANSACTIONAL_ID="}, nil, "TRANSACTIONAL_ID is set but empty"},
		{"producer", []string{"TOPIC="}, nil, "TOPIC is set but empty"},
		{"producer", []string{"KAFKA_SASL_MECHANISM=MAGIC"}, nil, "KAFKA_SASL_MECHANISM"},
		{"producer", []string{"KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "KAFKA_SASL_USERNAME=u", "KAFKA_SASL_PASSWORD_FILE=/nonexistent/password"}, nil, "KAFKA_SASL_PASSWORD_FILE: open /nonexistent/password"},
		{"consumer", []string{"KAFKA_TLS_CERT_FILE=/etc/hostname"}, []string{"0"}, "KAFKA_TLS_KEY_FILE is empty although KAFKA_TLS_CERT_FILE is /etc/hostname"},
		{"debug", []string{"KAFKA_TLS_CA_FILE=/etc/hostname"}, nil, "KAFKA_TLS_CA_FILE /etc/hostname holds no PEM certificate"},
		{"dashboard", []string{"KAFKA_SASL_USERNAME=u"}, nil, "KAFKA_SASL_MECHANISM is empty although a SASL user or password is set"},
		{"debug", []string{"OUTPUT=xml"}, nil, "OUTPUT"},
		{"debug", []string{"GROUP="}, nil, "GROUP is set but empty"},
		{"debug", []string{"LOG_FORMAT=fancy"}, nil, "LOG_FORMAT"},
		{"debug", []string{"HTTP_ADDR=:notaport"}, nil, `HTTP_ADDR ":notaport": want [host]:port, the port a number from 0 to 65535`},
		{"dashboard", []string{"HTTP_ADDR=:99999"}, nil, `HTTP_ADDR ":99999": want [host]:port`},
		{"consumer", []string{"HTTP_ADDR=:notaport"}, []string{"0"}, `HTTP_ADDR ":notaport"`},
		{"producer", []string{"HTTP_MAX_CONNECTIONS=0"}, nil, "HTTP_MAX_CONNECTIONS is 0: want at least 1"},
		{"dashboard", []string{"HTTP_IDLE_TIMEOUT=0s"}, nil, "HTTP_IDLE_TIMEOUT is 0s: want at least 100ms"},
		{"producer", []string{"KAFKA_BROKERS=host:notaport"}, nil, `KAFKA_BROKERS "host:notaport": want [host]:port, the port a number from 1 to 65535`},
		{"debug", []string{"KAFKA_BROKERS=a:9092,b:0"}, nil, `KAFKA_BROKERS "a:9092,b:0": entry "b:0"`},
		{"consumer", []string{"KAFKA_TLS="}, []string{"0"}, "KAFKA_TLS is set but empty: unset it, or give it a value"},
		{"debug", []string{"KAFKA_SASL_MECHANISM="}, nil, "KAFKA_SASL_MECHANISM is set but empty"},
		{"dashboard", []string{"KAFKA_TLS_CA_FILE="}, nil, "KAFKA_TLS_CA_FILE is set but empty"},
		{"producer", []string{"KAFKA_SASL_MECHANISM=PLAIN", "KAFKA_SASL_USERNAME=u", "KAFKA_SASL_PASSWORD_FILE=/dev/zero"}, nil,
			"KAFKA_SASL_PASSWORD_FILE: open /dev/zero: not a regular file (a device)"},
		{"debug", []string{"KAFKA_TLS_CA_FILE=" + fifo}, nil, "KAFKA_TLS_CA_FILE: open " + fifo + ": not a regular file (a FIFO)"},
	} {
		t.Run(tt.svc+" "+tt.want, func(t *testing.T) {
			p := start(t, tt.svc, append([]string{"TOPIC=" + newTopic(t), "DATA_DIR=" + t.TempDir()}, tt.env...), tt.args...)
			if code := p.wait(30 * time.Second); code != 2 {
				t.Fatalf("exited %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.svc+": ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q, want one line with %q", lines, tt.want)
			}
		})
	}
}

// A broker that does not answer: each service gives up after
// KAFKA_CONNECT_TIMEOUT with one line naming the address.
func TestUnreachableBrokerIsOneClearError(t *testing.T) {
	dead := freeAddr(t)
	for _, svc := range []string{"producer", "consumer", "debug"} {
		t.Run(svc, func(t *testing.T) {
			var args []string
			if svc == "consumer" {
				args = []string{"0"}
			}
			p := start(t, svc, []string{"KAFKA_BROKERS=" + dead, "KAFKA_CONNECT_TIMEOUT=1s", "DATA_DIR=" + t.TempDir()}, args...)
			if code := p.wait(30 * time.Second); code == 0 {
				t.Fatal("exited 0")
			}
			if want := "kafka at " + dead + " unreachable after 1s"; !strings.Contains(p.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
			}
		})
	}
}

// One partition, one owner: a second consumer of a partition whose file is
// held fails clearly, naming the holder; the first goes on undisturbed.
func TestSecondOwnerOfAPartitionFailsClearly(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000)
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir}
	owner := start(t, "consumer", env, "0", "1")
	waitCaughtUp(t, dir, topic, []int32{0, 1}, time.Minute)

	second := start(t, "consumer", append(env, "LOCK_WAIT=500ms"), "1", "2")
	if code := second.wait(30 * time.Second); code == 0 {
		t.Fatal("second owner exited 0")
	}
	want := fmt.Sprintf("partition 1 is owned by another consumer (pid %d", owner.cmd.Process.Pid)
	if !strings.Contains(second.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, second.stderr.String())
	}
	if _, err := os.Stat(partitionFile(dir, 2)); err == nil {
		t.Error("the second consumer wrote partition 2 although it did not get partition 1")
	}
	produce(t, topic, 2000)
	waitCaughtUp(t, dir, topic, []int32{0, 1}, time.Minute)
	owner.terminate()
	if code := owner.wait(30 * time.Second); code != 0 {
		t.Errorf("owner exited %d", code)
	}
}

// SIGTERM stops every service cleanly with exit 0; the producer commits what
// it produced, so a restart continues right after it.
func TestSIGTERMStopsEachServiceCleanly(t *testing.T) {
	topic := newTopic(t)
	p := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=1ms"})
	p.waitForLog("producing", 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	p.terminate()
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("producer exited %d", code)
	}
	// What it says it committed is exactly what the topic holds, and a
	// restart continues right after it.
	next := logInt(t, p.stderr.String(), "stopped", "next_index")
	if next == 0 {
		t.Fatal("nothing committed before SIGTERM")
	}
	if foreign := checkStream(t, brokers, topic, next, seedOne); foreign != 0 {
		t.Errorf("%d records in the topic beyond the %d reports the producer said it committed", foreign, next)
	}
	again := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=1ms"})
	again.waitForLog("producing", 30*time.Second)
	if from := logInt(t, again.stderr.String(), "producing", "from_index"); from != next {
		t.Errorf("the restarted producer continues from index %d, want %d: right after what was committed", from, next)
	}
	again.terminate()
	if code := again.wait(30 * time.Second); code != 0 {
		t.Fatalf("restarted producer exited %d", code)
	}
	for _, tt := range []struct {
		name, svc, topic, log string
	}{
		{"consumer", "consumer", topic, "consuming"},
		{"debug", "debug", topic, "partitions assigned"},
		{"consumer waiting for its topic", "consumer", newTopic(t), "waiting for the topic to exist"},
	} {
		var args []string
		if tt.svc == "consumer" {
			args = []string{"0"}
		}
		c := start(t, tt.svc, []string{"TOPIC=" + tt.topic, "GROUP=" + tt.topic, "DATA_DIR=" + t.TempDir()}, args...)
		c.waitForLog(tt.log, 30*time.Second)
		c.terminate()
		if code := c.wait(30 * time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGTERM", tt.name, code)
		}
	}
}

// Partitions of the topic that no consumer reads are warned about; once a
// consumer takes them, the warning is lifted.
func TestConsumerWarnsAboutPartitionsNobodyReads(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000, "TOPIC_PARTITIONS=8")
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "TOPIC_CHECK_INTERVAL=500ms"}
	first := start(t, "consumer", env, "0", "1", "2", "3")
	first.waitForLog(`unread="[4 5 6 7]"`, 30*time.Second)
	if !strings.Contains(scrape(t, first.httpAddr), "weather_consumer_unread_partitions 4") {
		t.Error("the unread-partitions gauge is not 4")
	}
	second := start(t, "consumer", env, "4", "5", "6", "7")
	first.waitForLog("every partition of the topic is read again", 30*time.Second)
	for _, c := range []*proc{first, second} {
		c.terminate()
		c.wait(30 * time.Second)
	}
}

// A StatefulSet pod takes its ordinal's entry of PARTITIONS_BY_ORDINAL; a pod
// whose ordinal has no entry idles, ready, until SIGTERM.
func TestStatefulSetPodTakesItsOrdinalsPartitions(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000)
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "PARTITIONS_BY_ORDINAL=0,2;1,3"}
	pod1 := start(t, "consumer", append(env, "POD_INDEX=1"))
	waitCaughtUp(t, dir, topic, []int32{1, 3}, time.Minute)
	spare := start(t, "consumer", append(env, "POD_INDEX=2"))
	spare.waitForLog("idling as a spare", 30*time.Second)
	resp, err := http.Get("http://" + spare.httpAddr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("spare not ready: %v %v", resp, err)
	}
	if err == nil {
		resp.Body.Close()
	}
	for _, p := range []*proc{pod1, spare} {
		p.terminate()
		if code := p.wait(30 * time.Second); code != 0 {
			t.Errorf("exited %d", code)
		}
	}
	for _, p := range []int32{0, 2} {
		if _, err := os.Stat(partitionFile(dir, p)); err == nil {
			t.Errorf("partition %d written by pod 1", p)
		}
	}
}

// logInt is the integer attribute key of the first line of log that
// contains msg (slog's text format: key=123).
func logInt(t testing.TB, log, msg, key string) int64 {
	t.Helper()
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `=(\d+)`)
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		if m := re.FindStringSubmatch(line); m != nil {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no line with %q and %s=<n> in the log:\n%s", msg, key, tail(log, 20))
	return 0
}
