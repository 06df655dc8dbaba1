package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
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
		Log       *fileLog `json:"log"`
		Age       *float64 `json:"checkpoint_age_seconds"`
		ReportAge *float64 `json:"newest_report_age_seconds"`
	} `json:"partitions"`
	Unread []int32 `json:"unread"`
	Latest map[string][]struct {
		Date    string  `json:"date"`
		Degrees float64 `json:"degrees"`
	} `json:"latest"`
}

// dashboardPipeline is a producer of count reports, two stats consumers and
// the dashboard following their snapshots, all on the suite's broker.
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
	p.dashboard = start(t, "dashboard", []string{"TOPIC=" + p.topic, "REFRESH_INTERVAL=200ms"})
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

// The dashboard's API says what the files say — as their snapshots carry
// it — next to what the log says: on a finished stream, the consumers still
// running, every station equals the generator's stats (exactly, sums
// included), every partition is checkpointed with lag 0 at the log's end,
// and the latest daily maxima end with each station's last report.
func TestDashboardAPIShowsTheCheckpointsNextToTheLog(t *testing.T) {
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
		if row.State != "ok" || *row.Lag != 0 || row.Log == nil || row.Log.TopicID != v.TopicID || row.ReportAge == nil || row.Age == nil || *row.Age < 0 {
			t.Errorf("partition %d: state %s, lag %d, log %+v, newest report age %v, checkpoint age %v; want ok, 0, the topic's, known, known",
				row.Partition, row.State, *row.Lag, row.Log, row.ReportAge, row.Age)
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
// the checkpoints advance, the lag is bounded — and fails with one line
// saying what is wrong when a partition's newest snapshot does not load
// (its consumers stopped, so that nothing publishes another).
func TestDashboardCheckPassesOnAWorkingPipelineAndFailsClearlyOnABrokenOne(t *testing.T) {
	p := startDashboardPipeline(t, 1_000_000, "1ms")
	p.view(t, "every partition checkpointed", func(v dashboardView) bool { return v.Complete && len(v.Partitions) == 4 })
	ok := start(t, "dashboard", nil, "check", "-url", strings.TrimSuffix(p.url, "/"), "-max-lag", "100000", "-timeout", "30s", "-every", "200ms")
	if code := ok.wait(40 * time.Second); code != 0 || !strings.Contains(ok.stdout.String(), "the checkpoints advanced by") {
		t.Fatalf("dashboard check on a working pipeline: exit %d, %q %q", code, ok.stdout.String(), ok.stderr.String())
	}
	for _, c := range p.consumers { // from here on only the test publishes snapshots
		c.terminate()
		c.wait(30 * time.Second)
	}
	publishSnapshot(t, p.topic, 1, []byte("{"))
	bad := start(t, "dashboard", nil, "check", "-url", strings.TrimSuffix(p.url, "/"), "-timeout", "2s", "-every", "200ms")
	if code := bad.wait(20 * time.Second); code != 1 || !strings.Contains(bad.stderr.String(), "partition 1 is error "+snapshot.Topic(p.topic)+" partition 1 offset") {
		t.Errorf("dashboard check with a snapshot that does not load: exit %d, %q; want 1 and the partition named", code, bad.stderr.String())
	}
}

// publishSnapshot writes value as partition p's record of topic's snapshot
// topic, as a consumer (or a careless hand) would.
func publishSnapshot(t testing.TB, topic string, p int32, value []byte) {
	t.Helper()
	cl := newClient(t, snapshot.ClientOpts()...)
	r := &kgo.Record{Topic: snapshot.Topic(topic), Partition: p, Key: snapshot.Key(p), Value: value}
	if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// snapshotOfFile is the snapshot record value of partition p's file in dir
// and the log beside it, its state changed by change (the state as JSON
// any reader sees it) first.
func snapshotOfFile(t testing.TB, dir string, p int32, change func(state map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(partitionFile(dir, p))
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	change(state)
	if data, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	f, err := readFile(t, partitionFile(dir, p))
	if err != nil || f.Log == nil {
		t.Fatalf("partition %d's log: %+v, %v", p, f.Log, err)
	}
	return snapshot.Encode(stats.Log{Topic: f.Log.Topic, TopicID: f.Log.TopicID, Partition: f.Log.Partition}, data)
}
