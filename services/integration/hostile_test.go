package integration

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/snapshot"
)

// Snapshots a careless or hostile writer leaves in the snapshot topic the
// dashboard follows: one with an offset past the log's end, two valid ones
// whose station adds up to more than a float64 holds, a record that does
// not load, one of a partition the topic does not have (in a partition the
// snapshot topic gained). The dashboard shows each as what it is — the
// first an error row while every other row keeps its log end and lag, the
// station with null numbers and the reason, the record that does not load
// and the partition that is not the topic's error rows — and keeps
// refreshing. And a FIFO named like a partition file: a consumer and
// `consumer print` meeting it fail at once with its name instead of
// blocking.
func TestDashboardShowsHostileSnapshotsAndKeepsRefreshing(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 1000)
	consumeAll(t, topic, dir) // stopped, its last snapshots published: from here on only the test publishes

	huge := map[string]any{"count": 1, "sum": 1.7e308, "avg": 1.7e308, "start": "2000-01-01", "end": "2000-01-01"}
	publishSnapshot(t, topic, 1, snapshotOfFile(t, dir, 1, func(m map[string]any) { m["offset"] = 999999 }))
	// At the offsets of the consumers' last: of two at one offset, the later wins.
	publishSnapshot(t, topic, 2, snapshotOfFile(t, dir, 2, func(m map[string]any) { m["StationZ"] = huge }))
	publishSnapshot(t, topic, 3, snapshotOfFile(t, dir, 3, func(m map[string]any) { m["StationZ"] = huge }))
	publishSnapshot(t, topic, 0, []byte(`{"topic": "`+topic+`", "partition": 0, "state": {"offset": 1`))
	if _, err := newAdmin(t).CreatePartitions(context.Background(), 2, snapshot.Topic(topic)); err != nil {
		t.Fatal(err)
	}
	beyond := snapshotOfFile(t, dir, 0, func(map[string]any) {})
	publishSnapshot(t, topic, 5, []byte(strings.Replace(string(beyond), `"partition": 0`, `"partition": 5`, 1)))

	d := start(t, "dashboard", []string{"TOPIC=" + topic, "REFRESH_INTERVAL=200ms"})
	d.waitForLog("msg=dashboard", 20*time.Second)
	p := &dashboardPipeline{url: "http://" + d.httpAddr + "/"}
	first := p.view(t, "the hostile snapshots", func(v dashboardView) bool { return len(v.Partitions) == 5 })
	for _, row := range first.Partitions {
		switch row.Partition {
		case 0:
			if row.State != "error" || !strings.Contains(row.Error, snapshot.Topic(topic)+" partition 0 offset ") || !strings.Contains(row.Error, "not a snapshot") {
				t.Errorf("partition 0: %+v, want an error row: its newest snapshot record does not load", row)
			}
		case 1:
			if row.State != "error" || !strings.Contains(row.Error, "the snapshot's offset 999999 is past the log's end") {
				t.Errorf("partition 1: %+v, want an error row: past the log's end", row)
			}
		case 5:
			if row.State != "error" || !strings.Contains(row.Error, "has 4 partitions: there is no partition 5") {
				t.Errorf("partition 5: %+v, want an error row: no such partition", row)
			}
		default:
			if row.State != "ok" || row.LogEnd == nil || row.Lag == nil || *row.Lag != 0 {
				t.Errorf("partition %d: %+v, want ok with its log end and lag 0", row.Partition, row)
			}
		}
		if row.Partition < 4 && row.LogEnd == nil {
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
	if err := syscall.Mkfifo(partitionFile(dir, 5), 0o644); err != nil {
		t.Fatal(err)
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
