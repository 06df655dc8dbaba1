package tail

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/testkit"
	"github.com/weatherstream/weather/services/debug/internal/printer"
)

const topic = "temperatures"

// session runs the loop as the binary does until stop is called.
type session struct {
	out     *testkit.Buffer
	metrics *Metrics
	stop    func() error
}

func start(t *testing.T, c *kfake.Cluster, group string) *session {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	assigned := make(chan struct{}, 1)
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)},
		ClientOpts(log, group, topic, func() { assigned <- struct{}{} })...)...)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{out: new(testkit.Buffer), metrics: NewMetrics(prometheus.NewRegistry())}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, log, client, s.out, printer.Python, s.metrics) }()
	s.stop = func() error { cancel(); err := <-done; client.Close(); return err }
	select {
	case <-assigned:
	case <-time.After(10 * time.Second):
		t.Fatal("no partitions assigned within 10s")
	}
	return s
}

func produce(t *testing.T, c *kfake.Cluster, from, to int64, bad bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	g := generator.New(1)
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		r := g.Report(i)
		v, _ := codec.Encode(nil, r)
		recs = append(recs, &kgo.Record{Key: []byte(r.StationId), Value: v})
	}
	if bad {
		recs = append(recs, &kgo.Record{Key: []byte("StationA"), Value: []byte("not a report")})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func waitPrinted(t *testing.T, s *session, n float64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(s.metrics.printed) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("printed %v, want %v", testutil.ToFloat64(s.metrics.printed), n)
		}
	}
}

// printedLine is what a printed line says, read back with a pattern of the
// original's line (not with the printer under test).
type printedLine struct {
	station, date string
	degrees       float64
	partition     int32
}

var pythonLine = regexp.MustCompile(`^\{'station_id': '([^']*)', 'date': '(\d{4}-\d\d-\d\d)', 'degrees': ([^,]+), 'partition': (\d+)\}\n$`)

// lines returns the lines the loop must print for reports [from, to), in
// any order (partitions interleave): the generator's reports, placed as
// Kafka's default partitioner places their keys.
func lines(from, to int64) map[printedLine]bool {
	g := generator.New(1)
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	out := map[printedLine]bool{}
	for i := from; i < to; i++ {
		r := g.Report(i)
		p := int32(part.Partition(&kgo.Record{Key: []byte(r.StationId)}, 4))
		out[printedLine{r.StationId, r.Date, r.Degrees, p}] = true
	}
	return out
}

func check(t *testing.T, got string, want map[printedLine]bool) {
	t.Helper()
	printed := strings.SplitAfter(got, "\n")
	printed = printed[:len(printed)-1]
	if len(printed) != len(want) {
		t.Errorf("%d lines, want %d", len(printed), len(want))
	}
	for _, l := range printed {
		m := pythonLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not the original's line: %q", l)
			continue
		}
		d, err := strconv.ParseFloat(m[3], 64)
		p, _ := strconv.Atoi(m[4])
		if err != nil || !want[printedLine{m[1], m[2], d, int32(p)}] {
			t.Errorf("unexpected line %q", l)
		}
	}
}

// A new group starts at the end of the topic, prints each report once, steps
// over a bad record; a restart resumes right after the last printed line.
func TestRunPrintsEachReportOnceAndResumes(t *testing.T) {
	c := testkit.Cluster(t, kfake.SeedTopics(4, topic))
	produce(t, c, 0, 50, false) // before the group exists: never printed

	s := start(t, c, "debug")
	produce(t, c, 50, 100, true)
	waitPrinted(t, s, 50)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	check(t, s.out.String(), lines(50, 100))
	if n := testutil.ToFloat64(s.metrics.skipped.WithLabelValues("undecodable")); n != 1 {
		t.Errorf("skipped undecodable %v, want 1", n)
	}

	produce(t, c, 100, 130, false) // while it is down
	again := start(t, c, "debug")
	waitPrinted(t, again, 30)
	time.Sleep(200 * time.Millisecond) // nothing more comes
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	check(t, again.out.String(), lines(100, 130))
}
