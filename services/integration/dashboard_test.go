package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// dashboardView is the dashboard's /api/v1/view as any JSON reader sees it.
type dashboardView struct {
	Time       time.Time `json:"time"`
	Topic      string    `json:"topic"`
	TopicID    string    `json:"topic_id"`
	KafkaError string    `json:"kafka_error"`
	Complete   bool      `json:"complete"`
	Stations   []struct {
		Station    string  `json:"station"`
		Count      int64   `json:"count"`
		Sum        float64 `json:"sum"`
		Avg        float64 `json:"avg"`
		Start      string  `json:"start"`
		End        string  `json:"end"`
		Partitions []int32 `json:"partitions"`
		Error      string  `json:"error"`
	} `json:"stations"`
	Partitions []struct {
		Partition int32    `json:"partition"`
		State     string   `json:"state"`
		Error     string   `json:"error"`
		Offset    *int64   `json:"offset"`
		LogEnd    *int64   `json:"log_end"`
		Lag       *int64   `json:"lag"`
		Owned     bool     `json:"owned"`
		Log       *fileLog `json:"log"`
		ReportAge *float64 `json:"newest_report_age_seconds"`
	} `json:"partitions"`
	Unread []int32 `json:"unread"`
	Latest map[string][]struct {
		Date    string  `json:"date"`
		Degrees float64 `json:"degrees"`
	} `json:"latest"`
}

// dashboardPipeline is a producer of count reports, two stats consumers and
// the dashboard over their directory, all on the suite's broker.
type dashboardPipeline struct {
	topic, dir string
	producer   *proc
	consumers  []*proc
	dashboard  *proc
	url        string // the page
}

func startDashboardPipeline(t *testing.T, count int64, interval string) *dashboardPipeline {
	t.Helper()
	p := &dashboardPipeline{topic: newTopic(t), dir: t.TempDir()}
	p.producer = start(t, "producer", []string{"TOPIC=" + p.topic, "INTERVAL=" + interval, fmt.Sprintf("COUNT=%d", count)})
	env := []string{"TOPIC=" + p.topic, "DATA_DIR=" + p.dir}
	p.consumers = []*proc{start(t, "consumer", env, "0", "2"), start(t, "consumer", env, "1", "3")}
	p.dashboard = start(t, "dashboard", append(env, "REFRESH_INTERVAL=200ms"))
	p.dashboard.waitForLog("msg=dashboard", 20*time.Second)
	p.url = "http://" + p.dashboard.httpAddr + "/"
	return p
}

// finish waits for the producer's last report to be in every file.
func (p *dashboardPipeline) finish(t *testing.T) {
	t.Helper()
	if code := p.producer.wait(3 * time.Minute); code != 0 {
		t.Fatalf("producer exited %d:\n%s", code, tail(p.producer.stderr.String(), 20))
	}
	waitCaughtUp(t, p.dir, p.topic, allPartitions, 2*time.Minute)
}

// view waits until the dashboard's view satisfies ok and returns it.
func (p *dashboardPipeline) view(t *testing.T, what string, ok func(dashboardView) bool) dashboardView {
	t.Helper()
	var v dashboardView
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(p.url + "api/v1/view")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("/api/v1/view is not its JSON: %v\n%s", err, b)
			}
			if ok(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed %s; last: %s %s", what, resp.Status, b)
		}
	}
}

// The dashboard's API says what the files say, next to what the log says: on
// a finished stream every station equals the generator's stats (exactly,
// sums included), every partition is checkpointed and owned with lag 0 at
// the log's end, and the latest daily maxima end with each station's last
// report.
func TestDashboardAPIShowsTheFilesNextToTheLog(t *testing.T) {
	const count = 20_000
	p := startDashboardPipeline(t, count, "0s")
	p.finish(t)
	ends := endOffsets(t, p.topic)
	v := p.view(t, "every partition at its log end", func(v dashboardView) bool {
		for _, row := range v.Partitions {
			if row.Offset == nil || row.LogEnd == nil || *row.Offset != ends[row.Partition] || *row.LogEnd != ends[row.Partition] {
				return false
			}
		}
		return len(v.Partitions) == 4
	})
	if !v.Complete || v.KafkaError != "" || v.Topic != p.topic || v.TopicID == "" || len(v.Unread) != 0 {
		t.Errorf("complete %v, kafka error %q, topic %q (%q), unread %v; want complete, none, %s with its id, none",
			v.Complete, v.KafkaError, v.Topic, v.TopicID, v.Unread, p.topic)
	}
	for _, row := range v.Partitions {
		if row.State != "ok" || *row.Lag != 0 || !row.Owned || row.Log == nil || row.Log.TopicID != v.TopicID || row.ReportAge == nil {
			t.Errorf("partition %d: state %s, lag %d, owned %v, log %+v, newest report age %v; want ok, 0, owned, the topic's, known",
				row.Partition, row.State, *row.Lag, row.Owned, row.Log, row.ReportAge)
		}
	}
	want := fromGenerator(count)
	got := 0
	for _, s := range v.Stations {
		if len(s.Partitions) != 1 {
			t.Errorf("%s is in partitions %v, want one", s.Station, s.Partitions)
			continue
		}
		w, ok := want[s.Partitions[0]][s.Station]
		if !ok {
			t.Errorf("%s is not of partition %d", s.Station, s.Partitions[0])
			continue
		}
		got++
		if s.Count != w.Count || s.Sum != w.Sum || s.Avg != w.Sum/float64(w.Count) || s.Start != w.Start || s.End != w.End {
			t.Errorf("%s: %+v, want count %d sum %v start %s end %s", s.Station, s, w.Count, w.Sum, w.Start, w.End)
		}
		if l := v.Latest[s.Station]; len(l) == 0 || l[len(l)-1].Date != w.End {
			t.Errorf("%s: latest maxima %v, want them to end with its last report (%s)", s.Station, l, w.End)
		}
	}
	if got != 10 {
		t.Errorf("%d stations of the generator's ten", got)
	}
}

// `dashboard check` (the chart's helm test) passes on a working pipeline —
// the files advance, the lag is bounded — and fails with one line saying
// what is wrong when a partition's file is corrupt (its consumers stopped,
// so that nothing rewrites it).
func TestDashboardCheckPassesOnAWorkingPipelineAndFailsClearlyOnABrokenOne(t *testing.T) {
	p := startDashboardPipeline(t, 1_000_000, "1ms")
	p.view(t, "every partition checkpointed", func(v dashboardView) bool { return v.Complete && len(v.Partitions) == 4 })
	ok := start(t, "dashboard", nil, "check", "-url", strings.TrimSuffix(p.url, "/"), "-max-lag", "100000", "-timeout", "30s", "-every", "200ms")
	if code := ok.wait(40 * time.Second); code != 0 || !strings.Contains(ok.stdout.String(), "the files advanced by") {
		t.Fatalf("dashboard check on a working pipeline: exit %d, %q %q", code, ok.stdout.String(), ok.stderr.String())
	}
	for _, c := range p.consumers { // from here on only the test writes the files
		c.terminate()
		c.wait(30 * time.Second)
	}
	if err := os.WriteFile(partitionFile(p.dir, 1), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := start(t, "dashboard", nil, "check", "-url", strings.TrimSuffix(p.url, "/"), "-timeout", "2s", "-every", "200ms")
	if code := bad.wait(20 * time.Second); code != 1 || !strings.Contains(bad.stderr.String(), "partition 1 is error") {
		t.Errorf("dashboard check with a corrupt file: exit %d, %q; want 1 and the partition named", code, bad.stderr.String())
	}
}
