package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileWatch records, per partition, when each offset of its file was first
// seen (the files looked at every 10ms).
type fileWatch struct {
	mu   sync.Mutex
	seen map[int32][]seenOffset // oldest first
}

type seenOffset struct {
	offset int64
	at     time.Time
}

func watchFiles(t *testing.T, dir string) *fileWatch {
	t.Helper()
	w := &fileWatch{seen: map[int32][]seenOffset{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, p := range allPartitions {
				f, err := readFile(t, partitionFile(dir, p))
				if err != nil {
					continue // not there yet
				}
				now := time.Now()
				w.mu.Lock()
				if s := w.seen[p]; len(s) == 0 || s[len(s)-1].offset != f.Offset {
					w.seen[p] = append(s, seenOffset{f.Offset, now})
				}
				w.mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return w
}

// behind is how long, at time at, partition p's file had held an offset past
// offset: 0 if it held none by then.
func (w *fileWatch) behind(p int32, offset int64, at time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.seen[p] {
		if s.offset > offset {
			return max(0, at.Sub(s.at))
		}
	}
	return 0
}

// How far the dashboard's view is behind the files, in time, on a running
// pipeline at the default pace (the producer's INTERVAL 100ms; the
// consumers' SNAPSHOT_INTERVAL and the dashboard's REFRESH_INTERVAL at
// their defaults, 1s): at each look at the view, for each partition, how
// long the partition's file had held an offset past the one the view shows
// — as the view was built (its time), and as a reader gets it (the time of
// the request: up to one refresh later). Issue 23's target is 2 s; the test
// logs the figures and asserts a generous bound only.
func TestDashboardFreshnessAtTheDefaultPace(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for 20s")
	}
	topic, dir := newTopic(t), t.TempDir()
	start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=100ms"})
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir}
	start(t, "consumer", env, "0", "2")
	start(t, "consumer", env, "1", "3")
	dash := start(t, "dashboard", []string{"TOPIC=" + topic})
	dash.waitForLog("msg=dashboard", 20*time.Second)
	watch := watchFiles(t, dir)
	p := &dashboardPipeline{url: "http://" + dash.httpAddr + "/"}
	p.view(t, "every partition checkpointed", func(v dashboardView) bool { return v.Complete && len(v.Partitions) == 4 })

	var built, read []time.Duration
	const measure = 20 * time.Second
	for end := time.Now().Add(measure); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		asked := time.Now()
		resp, err := http.Get(p.url + "api/v1/partitions")
		if err != nil {
			t.Fatal(err)
		}
		var v dashboardView
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range v.Partitions {
			if row.State != "ok" || row.Offset == nil {
				t.Fatalf("partition %d: %s %s, want ok", row.Partition, row.State, row.Error)
			}
			built = append(built, watch.behind(row.Partition, *row.Offset, v.Time))
			read = append(read, watch.behind(row.Partition, *row.Offset, asked))
		}
	}
	figures := func(d []time.Duration) (p50, p95, most time.Duration) {
		slices.Sort(d)
		return d[len(d)/2], d[len(d)*95/100], d[len(d)-1]
	}
	b50, b95, bmax := figures(built)
	r50, r95, rmax := figures(read)
	t.Logf("the dashboard behind the files over %s (%d looks × 4 partitions): as built p50 %s, p95 %s, max %s; as read p50 %s, p95 %s, max %s",
		measure, len(read)/4, b50.Round(time.Millisecond), b95.Round(time.Millisecond), bmax.Round(time.Millisecond),
		r50.Round(time.Millisecond), r95.Round(time.Millisecond), rmax.Round(time.Millisecond))
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", dash.cmd.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				t.Logf("the dashboard's peak resident set: %s", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
			}
		}
	}
	if rmax > 10*time.Second {
		t.Errorf("the view was up to %s behind the files, want well within 10s (target 2s)", rmax)
	}
}
