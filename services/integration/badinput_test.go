package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
)

// consumeAll runs a consumer over all partitions until its files hold the end
// offsets, then stops it with SIGTERM; it returns the process.
func consumeAll(t *testing.T, topic, dir string, env ...string) {
	t.Helper()
	c := start(t, "consumer", append([]string{"TOPIC=" + topic, "DATA_DIR=" + dir}, env...), "0", "1", "2", "3")
	waitCaughtUp(t, dir, topic, allPartitions, 2*time.Minute)
	c.terminate()
	if code := c.wait(30 * time.Second); code != 0 {
		t.Fatalf("consumer exited %d after SIGTERM, want 0", code)
	}
}

// Bad records in the stream: no key, a value that is not a Report, a key that
// is not the station, an impossible date, NaN degrees. Each is logged with its
// partition and offset, counted in a metric, stepped over once; the reports
// around them are all counted, and a restart does not see them again.
func TestConsumerStepsOverBadRecordsOnce(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000)
	report := func(mut func(*reportpb.Report)) []byte {
		r := &reportpb.Report{Date: "2003-01-01", Degrees: 1, StationId: "StationB"}
		mut(r)
		b, _ := codec.Encode(nil, r)
		return b
	}
	bad := []*kgo.Record{
		{Key: nil, Value: report(func(*reportpb.Report) {})},
		{Key: []byte("StationB"), Value: []byte("not protobuf \xff\xff\xff")},
		{Key: []byte("StationB"), Value: report(func(r *reportpb.Report) { r.StationId = "StationD" })},
		{Key: []byte("StationB"), Value: report(func(r *reportpb.Report) { r.Date = "2003-02-30" })},
		{Key: []byte("StationB"), Value: report(func(r *reportpb.Report) { r.Degrees = math.NaN() })},
	}
	w := newClient(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, r := range bad {
		r.Partition = 0
	}
	if err := w.ProduceSync(context.Background(), bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, topic, 2000) // the stream goes on after them

	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir}, "0", "1", "2", "3")
	waitCaughtUp(t, dir, topic, allPartitions, time.Minute)
	metrics := scrape(t, c.httpAddr)
	for _, reason := range []string{"no_key", "undecodable", "key_mismatch", "bad_date", "bad_degrees"} {
		line := fmt.Sprintf(`weather_consumer_records_skipped_total{partition="0",reason="%s"} 1`, reason)
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
	c.terminate()
	c.wait(30 * time.Second)
	if n := strings.Count(c.stderr.String(), "skipping bad record"); n != len(bad) {
		t.Errorf("%d bad records logged, want %d", n, len(bad))
	}
	for _, want := range []string{"partition=0", "offset=", "record has no key", "not a Report", "YYYY-MM-DD", "finite"} {
		if !strings.Contains(c.stderr.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	want := fromGenerator(2000)
	for _, p := range allPartitions {
		f, _ := readFile(t, partitionFile(dir, p))
		equalStations(t, fmt.Sprintf("partition %d", p), f, want[p])
	}

	again := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir}, "0", "1", "2", "3")
	again.waitForLog("consuming", 30*time.Second)
	// Until its offsets are at the log's end: had it resumed before the bad
	// records, it would have stepped over them again by then.
	scrapeUntil(t, again, "at the log's end", 30*time.Second, func(m families) bool {
		for _, p := range allPartitions {
			if l := m.lag(p); l.records != 0 || l.end == 0 {
				return false
			}
		}
		return true
	})
	again.terminate()
	again.wait(30 * time.Second)
	if strings.Contains(again.stderr.String(), "skipping bad record") {
		t.Error("a restarted consumer stepped over the bad records again")
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A checkpoint that is corrupt, or is not a checkpoint at all, stops the
// consumer with an error naming the file, and the file is never overwritten.
func TestCorruptOrForeignCheckpointIsAnErrorAndLeftAsItIs(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 100)
	for _, tt := range []struct{ name, content string }{
		{"truncated", `{"offset": 12, "StationB": {"count": 3, "su`},
		{"binary", "\x00\x01\x02garbage"},
		{"foreign JSON", `{"dashboard": "weather", "version": 2}`},
		{"wrong types", `{"offset": "twelve"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := partitionFile(dir, 2)
			os.WriteFile(path, []byte(tt.content), 0o644)
			c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir}, "0", "2")
			if code := c.wait(30 * time.Second); code == 0 {
				t.Fatal("consumer exited 0")
			}
			if !strings.Contains(c.stderr.String(), path) || !strings.Contains(c.stderr.String(), "corrupt or not a checkpoint") {
				t.Errorf("error does not name %s as corrupt:\n%s", path, c.stderr.String())
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Errorf("file changed to %q", got)
			}
			if _, err := os.Stat(partitionFile(dir, 0)); err == nil {
				t.Error("partition 0 was consumed although its neighbour's checkpoint is bad")
			}
		})
	}
}

// A checkpoint offset the log does not have any more, past its end (topic
// recreated, broker lost its log) or before its start (retention): a clear
// error naming the file and both offsets, the file untouched; with
// ON_OFFSET_OUT_OF_RANGE=restart the file is kept as a backup and the
// partition starts afresh from the log start.
func TestCheckpointOffsetOutsideTheLog(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 2000)
	ends := endOffsets(t, topic)
	// Retention, simulated: partition 3 loses its first 50 offsets.
	adm := newAdmin(t)
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: topic, Partition: 3, At: 50})
	if resp, err := adm.DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	for _, tt := range []struct {
		name      string
		partition int32
		offset    int64
		want      string
		freshFrom int64
	}{
		{"past the end", 1, ends[1] + 1000, "past the log end", 0},
		{"before the start", 3, 10, "before the log start", 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := partitionFile(dir, tt.partition)
			old := fmt.Sprintf(`{"offset": %d, "StationJ": {"count": 1, "sum": 3, "avg": 3, "start": "2000-01-04", "end": "2000-01-04"}}`, tt.offset)
			os.WriteFile(path, []byte(old), 0o644)
			env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir}

			c := start(t, "consumer", env, fmt.Sprint(tt.partition))
			if code := c.wait(30 * time.Second); code == 0 {
				t.Fatal("consumer exited 0")
			}
			msg := c.stderr.String()
			for _, want := range []string{path, tt.want, fmt.Sprintf("offset %d", tt.offset), fmt.Sprintf("offsets %d to %d", tt.freshFrom, ends[tt.partition])} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			if got, _ := os.ReadFile(path); string(got) != old {
				t.Errorf("file changed to %q", got)
			}

			c = start(t, "consumer", append(env, "ON_OFFSET_OUT_OF_RANGE=restart"), fmt.Sprint(tt.partition))
			waitCaughtUp(t, dir, topic, []int32{tt.partition}, time.Minute)
			c.terminate()
			c.wait(30 * time.Second)
			backups, _ := filepath.Glob(path + ".bak-*")
			if len(backups) != 1 {
				t.Fatalf("backups %v, want one", backups)
			}
			if got, _ := os.ReadFile(backups[0]); string(got) != old {
				t.Errorf("backup holds %q", got)
			}
			want := recount(t, topic, tt.partition, tt.freshFrom)
			f, _ := readFile(t, path)
			equalStations(t, "fresh start", f, want)
		})
	}
}

// A full disk, then a read-only one: the checkpoint cannot be written, the
// consumer retries, then exits non-zero; the file keeps its last good state
// (its offset never ahead of its stats), and once the disk is fixed a restart
// completes with nothing lost or counted twice. Needs root for a small tmpfs.
func TestFullOrReadOnlyDiskLosesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a small tmpfs (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a small tmpfs (needs root, as in CI): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	topic := newTopic(t)
	env := []string{"CHECKPOINT_RETRIES=2", "CHECKPOINT_RETRY_BACKOFF=50ms"}
	produce(t, topic, 1000)
	consumeAll(t, topic, dir, env...)

	for _, tt := range []struct {
		name           string
		count          int64 // the stream grows to this while the disk is broken
		breakDisk, fix func()
		want           string
	}{
		{"full", 3000, func() {
			f, _ := os.Create(filepath.Join(dir, "filler"))
			f.Write(bytes.Repeat([]byte{1}, 128<<10)) // stops at ENOSPC
			f.Close()
		}, func() { os.Remove(filepath.Join(dir, "filler")) }, "no space left on device"},
		{"read-only", 5000, func() {
			// EBUSY while the consumer has a file open for writing: retry.
			for try := 0; ; try++ {
				err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
				if err == nil {
					break
				}
				if try == 100 {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}, func() {
			if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT, ""); err != nil {
				t.Fatal(err)
			}
		}, "read-only file system"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := map[int32][]byte{}
			for _, p := range allPartitions {
				before[p], _ = os.ReadFile(partitionFile(dir, p))
			}
			c := start(t, "consumer", append([]string{"TOPIC=" + topic, "DATA_DIR=" + dir}, env...), "0", "1", "2", "3")
			c.waitForLog("consuming", 30*time.Second)
			produced := endOffsets(t, topic)
			tt.breakDisk()
			produce(t, topic, tt.count) // more records arrive while the disk is broken
			code := c.wait(time.Minute)
			if code == 0 || !strings.Contains(c.stderr.String(), tt.want) || !strings.Contains(c.stderr.String(), "gave up") {
				t.Fatalf("consumer exited %d, want non-zero with %q:\n%s", code, tt.want, c.stderr.String())
			}
			for _, p := range allPartitions {
				if got, _ := os.ReadFile(partitionFile(dir, p)); !bytes.Equal(got, before[p]) {
					t.Errorf("partition %d file changed on a broken disk", p)
				}
				if f, err := readFile(t, partitionFile(dir, p)); err != nil || f.Offset != produced[p] {
					t.Errorf("partition %d: %v, offset %d, want the last good %d", p, err, f.Offset, produced[p])
				}
			}
			tt.fix()
			consumeAll(t, topic, dir, env...)
			for _, p := range allPartitions {
				want := recount(t, topic, p, 0)
				f, _ := readFile(t, partitionFile(dir, p))
				equalStations(t, fmt.Sprintf("partition %d after the fix", p), f, want)
			}
		})
	}
}

// Records that once stuck a partition for good: two finite 1e308 degrees
// (the sum would be +Inf, not JSON), and a report dated before its station's
// first date, last in its partition (start after end). The first is a bad
// record, stepped over once and counted by reason; the second is counted as
// it comes. Either way the file is one the consumer loads again.
func TestRecordsThatOnceStuckAPartitionLeaveAFileThatLoads(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000)
	huge := func(date string) *kgo.Record {
		v, _ := codec.Encode(nil, &reportpb.Report{Date: date, Degrees: 1e308, StationId: "StationX"})
		return &kgo.Record{Partition: 0, Key: []byte("StationX"), Value: v}
	}
	late, _ := codec.Encode(nil, &reportpb.Report{Date: "1999-12-31", Degrees: 7, StationId: "StationB"})
	w := newClient(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := w.ProduceSync(context.Background(), huge("2001-01-01"), huge("2001-01-02"),
		&kgo.Record{Partition: 0, Key: []byte("StationB"), Value: late}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir}, "0")
	waitCaughtUp(t, dir, topic, []int32{0}, time.Minute)
	if m := scrape(t, c.httpAddr); !strings.Contains(m, `weather_consumer_records_skipped_total{partition="0",reason="not_finite"} 1`) {
		t.Errorf("the overflowing record is not counted as not_finite")
	}
	c.terminate()
	c.wait(30 * time.Second)

	want := fromGenerator(1000)[0]
	want["StationX"] = &expStation{Count: 1, Sum: 1e308, Start: "2001-01-01", End: "2001-01-01"}
	b := *want["StationB"]
	b.Count, b.Sum, b.End = b.Count+1, b.Sum+7, "1999-12-31"
	want["StationB"] = &b
	f, err := readFile(t, partitionFile(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	equalStations(t, "partition 0", f, want)

	again := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir}, "0")
	again.waitForLog("resuming from checkpoint", 30*time.Second)
	again.terminate()
	if code := again.wait(30 * time.Second); code != 0 {
		t.Errorf("the consumer refused its own file: exit %d\n%s", code, tail(again.stderr.String(), 3))
	}
}
