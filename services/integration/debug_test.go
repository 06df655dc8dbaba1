package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	untilPrinting(t, first, topic, 500)
	produce(t, topic, 800)
	for deadline := time.Now().Add(time.Minute); !printedUpTo(t, first, 800); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the debug consumer did not print up to report 799 within a minute")
		}
	}
	first.terminate()
	if code := first.wait(30 * time.Second); code != 0 {
		t.Fatalf("debug exited %d after SIGTERM", code)
	}
	// Each partition from where its start offset resolved (not before the
	// end of the topic at its start: report 500), nothing missing after.
	checkFromStart(t, indexesPrinted(t, first.stdout.String()), 500, 800)

	produce(t, topic, 1000) // while no debug consumer runs
	second := start(t, "debug", env)
	waitForLines(t, second, 200, time.Minute)
	// One more day, a report in every partition: once all of it is printed,
	// every partition is past what came before, and a record printed twice
	// would have been printed by then.
	produce(t, topic, 1010)
	waitForLines(t, second, 210, time.Minute)
	second.terminate()
	second.wait(30 * time.Second)
	checkRange(t, indexesPrinted(t, second.stdout.String()), 800, 1010)
}

// untilPrinting produces the stream a day at a time past count until the
// debug consumer (a new group, starting at the end of the topic once its
// start offsets resolve) prints: waiting for the condition, not for a
// second that a loaded machine may miss.
func untilPrinting(t *testing.T, d *proc, topic string, count int64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); strings.Count(d.stdout.String(), "\n") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the debug consumer printed nothing within a minute")
		}
		count += 10
		produce(t, topic, count)
		for wait := time.Now().Add(200 * time.Millisecond); time.Now().Before(wait) && strings.Count(d.stdout.String(), "\n") == 0; {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// printedUpTo reports whether the last day before report to is printed.
func printedUpTo(t *testing.T, d *proc, to int64) bool {
	t.Helper()
	// Only whole lines: read while it prints, the last may be half written.
	out := d.stdout.String()
	seen := indexesPrinted(t, out[:strings.LastIndex(out, "\n")+1])
	for i := to - 10; i < to; i++ {
		if !seen[i] {
			return false
		}
	}
	return true
}

// checkFromStart checks that each partition's printed reports are all of
// the stream's reports of that partition from its first printed one up to
// to, and that none is before min (printed history).
func checkFromStart(t *testing.T, seen map[int64]bool, min, to int64) {
	t.Helper()
	part := kgo.StickyKeyPartitioner(nil).ForTopic("any")
	g := generator.New(1)
	partitionOf := func(i int64) int { return part.Partition(&kgo.Record{Key: g.Key(i)}, 4) }
	first := map[int]int64{}
	for i := range seen {
		if i < min || i >= to {
			t.Errorf("printed report %d, outside %d to %d", i, min, to-1)
		}
		if p := partitionOf(i); first[p] == 0 || i < first[p] {
			first[p] = i
		}
	}
	for i := min; i < to; i++ {
		if f, ok := first[partitionOf(i)]; ok && i >= f && !seen[i] {
			t.Errorf("report %d (partition %d, printed from %d on) is missing", i, partitionOf(i), f)
		}
	}
	if len(first) != 4 {
		t.Errorf("printed reports of %d partitions, want 4", len(first))
	}
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
	untilPrinting(t, d, topic, 10)
	d.terminate()
	d.wait(30 * time.Second)
	// StationI is always 5.0, in partition 3 (Kafka's partitioner): its
	// line, whatever day the group started at.
	want := regexp.MustCompile(`(?m)^\{'station_id': 'StationI', 'date': '2000-01-\d\d', 'degrees': 5\.0, 'partition': 3\}$`)
	if !want.MatchString(d.stdout.String()) {
		t.Errorf("output lacks a line %s:\n%s", want, d.stdout.String())
	}
}
