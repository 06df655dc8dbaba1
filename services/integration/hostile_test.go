package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Files a careless or hostile user leaves in the data directory: one with an
// offset past the log's end, two valid ones whose station adds up to more
// than a float64 holds, a FIFO named like a partition file, a 200 MB one.
// The dashboard shows each as what it is — the first an error row while
// every other row keeps its log end and lag, the station with null numbers
// and the reason, the FIFO and the huge file error rows, never read — and
// keeps refreshing; a consumer and `consumer
// print` meeting the FIFO fail at once with its name instead of blocking.
func TestDashboardShowsHostileFilesAndKeepsRefreshing(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000)
	consumeAll(t, topic, dir)

	edit := func(p int32, change func(map[string]any)) {
		t.Helper()
		data, err := os.ReadFile(partitionFile(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		if data, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(partitionFile(dir, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit(1, func(m map[string]any) { m["offset"] = 999999 })
	huge := map[string]any{"count": 1, "sum": 1.7e308, "avg": 1.7e308, "start": "2000-01-01", "end": "2000-01-01"}
	edit(2, func(m map[string]any) { m["StationZ"] = huge })
	edit(3, func(m map[string]any) { m["StationZ"] = huge })
	if err := syscall.Mkfifo(partitionFile(dir, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(partitionFile(dir, 6), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(partitionFile(dir, 6), 200<<20); err != nil { // sparse: 200 MB that cost no disk
		t.Fatal(err)
	}

	d := start(t, "dashboard", []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "REFRESH_INTERVAL=200ms"})
	d.waitForLog("msg=dashboard", 20*time.Second)
	p := &dashboardPipeline{url: "http://" + d.httpAddr + "/"}
	first := p.view(t, "the hostile files", func(v dashboardView) bool { return len(v.Partitions) == 6 })
	for _, row := range first.Partitions {
		switch row.Partition {
		case 1:
			if row.State != "error" || !strings.Contains(row.Error, "the file's offset 999999 is past the log's end") {
				t.Errorf("partition 1: %+v, want an error row: past the log's end", row)
			}
		case 5:
			if row.State != "error" || !strings.Contains(row.Error, "a FIFO") {
				t.Errorf("partition 5: %+v, want an error row: a FIFO", row)
			}
		case 6:
			if row.State != "error" || !strings.Contains(row.Error, "larger than allowed: 209715200 bytes") {
				t.Errorf("partition 6: %+v, want an error row: larger than allowed", row)
			}
		default:
			if row.State != "ok" || row.LogEnd == nil || row.Lag == nil || *row.Lag != 0 {
				t.Errorf("partition %d: %+v, want ok with its log end and lag 0", row.Partition, row)
			}
		}
		if row.Partition < 5 && row.LogEnd == nil {
			t.Errorf("partition %d lost Kafka's facts: %+v", row.Partition, row)
		}
	}
	var z bool
	for _, s := range first.Stations {
		if s.Station == "StationZ" {
			z = s.Error != "" && strings.Contains(s.Error, "add up to more than a number holds")
		}
	}
	if !z || first.Complete {
		t.Errorf("StationZ not shown with its reason, or the view complete (%v): %+v", first.Complete, first.Stations)
	}
	// It goes on refreshing: a later view, not the first served again.
	p.view(t, "a newer view", func(v dashboardView) bool { return v.Time.After(first.Time) })
	for _, path := range []string{"readyz", "api/v1/stations", "api/v1/partitions"} {
		if body := httpGet(t, p.url+path); body == "" {
			t.Errorf("/%s is empty", path)
		}
	}

	// The consumer and `consumer print` on the FIFO: one clear line, at once.
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(partitionFile(fifoDir, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + fifoDir}, "0")
	if code := c.wait(20 * time.Second); code != 1 || !strings.Contains(c.stderr.String(), "a FIFO") {
		t.Errorf("consumer of the FIFO's partition exited %d, want 1 naming the FIFO:\n%s", code, tail(c.stderr.String(), 3))
	}
	pr := start(t, "consumer", nil, "print", dir)
	if code := pr.wait(20 * time.Second); code != 1 || !strings.Contains(pr.stderr.String(), fmt.Sprintf("%s: open %s", partitionFile(dir, 5), partitionFile(dir, 5))) {
		t.Errorf("consumer print exited %d, want 1 naming the FIFO:\n%s", code, tail(pr.stderr.String(), 3))
	}
}
