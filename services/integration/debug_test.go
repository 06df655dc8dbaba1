package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/generator"
)

type debugLine struct {
	StationID string  `json:"station_id"`
	Date      string  `json:"date"`
	Degrees   float64 `json:"degrees"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
}

// indexesPrinted parses the debug consumer's JSON lines and returns the
// stream index of each, failing on a record printed twice.
func indexesPrinted(t *testing.T, out string) map[int64]bool {
	t.Helper()
	seen := map[int64]bool{}
	where := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l debugLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		at := fmt.Sprintf("%d/%d", l.Partition, l.Offset)
		if where[at] {
			t.Errorf("record %s printed twice", at)
		}
		where[at] = true
		i, err := generator.Index(l.Date, l.StationID)
		if err != nil {
			t.Fatal(err)
		}
		seen[i] = true
	}
	return seen
}

func waitForLines(t *testing.T, p *proc, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.stdout.String(), "\n") < n {
		if time.Now().After(deadline) {
			t.Fatalf("debug printed %d lines within %s, want %d", strings.Count(p.stdout.String(), "\n"), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The debug consumer joins group "debug" (here a group of the test's own),
// starts a new group at the end of the topic, prints each record of its
// assignment once, and a later run resumes after the last printed record.
func TestDebugPrintsEachRecordOnceAndResumesWhereItStopped(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 500) // history a new group must not print
	env := []string{"TOPIC=" + topic, "GROUP=" + topic, "OUTPUT=json"}

	first := start(t, "debug", env)
	first.waitForLog("partitions assigned", time.Minute)
	time.Sleep(time.Second) // the group's start offsets resolve to the end
	produce(t, topic, 800)
	waitForLines(t, first, 300, time.Minute)
	first.terminate()
	if code := first.wait(30 * time.Second); code != 0 {
		t.Fatalf("debug exited %d after SIGTERM", code)
	}
	checkRange(t, indexesPrinted(t, first.stdout.String()), 500, 800)

	produce(t, topic, 1000) // while no debug consumer runs
	second := start(t, "debug", env)
	waitForLines(t, second, 200, time.Minute)
	time.Sleep(300 * time.Millisecond) // nothing more may come
	second.terminate()
	second.wait(30 * time.Second)
	checkRange(t, indexesPrinted(t, second.stdout.String()), 800, 1000)
}

func checkRange(t *testing.T, seen map[int64]bool, from, to int64) {
	t.Helper()
	if int64(len(seen)) != to-from {
		t.Errorf("printed %d reports, want %d (indexes %d to %d)", len(seen), to-from, from, to-1)
	}
	for i := range seen {
		if i < from || i >= to {
			t.Errorf("printed report %d, outside %d to %d", i, from, to-1)
			break
		}
	}
}

// The default output is the original's line, one per record.
func TestDebugPrintsTheOriginalsLine(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 10)
	d := start(t, "debug", []string{"TOPIC=" + topic, "GROUP=" + topic})
	d.waitForLog("partitions assigned", time.Minute)
	time.Sleep(time.Second)
	produce(t, topic, 20)
	waitForLines(t, d, 10, time.Minute)
	d.terminate()
	d.wait(30 * time.Second)
	want := "{'station_id': 'StationI', 'date': '2000-01-02', 'degrees': 5.0, 'partition': 3}\n"
	if !strings.Contains(d.stdout.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, d.stdout.String())
	}
}
