package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/embeddedkafka"
	"github.com/weatherstream/weather/services/common/observe/observetest"
)

// families is one /metrics scrape, by metric family name.
type families map[string]*dto.MetricFamily

// scrapeFamilies scrapes p's /metrics once (nil if it does not answer yet)
// and checks that what it serves passes Prometheus' linter.
func scrapeFamilies(t testing.TB, p *proc) families {
	t.Helper()
	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	if err := observetest.LintText(string(body)); err != nil {
		t.Errorf("%s /metrics: %v", p.name, err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s /metrics: %v", p.name, err)
	}
	return mfs
}

// scrapeUntil scrapes p until ok says its metrics are as wanted, and
// returns that scrape.
func scrapeUntil(t testing.TB, p *proc, what string, timeout time.Duration, ok func(families) bool) families {
	t.Helper()
	var last families
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if m := scrapeFamilies(t, p); m != nil {
			last = m
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("%s: not %s within %s (running: %v); last scrape: %v; stderr:\n%s",
				p.name, what, timeout, p.running(), summary(last), tail(p.stderr.String(), 20))
		}
	}
}

// value is the value of name's series whose labels include labels (label,
// value pairs): a gauge's, counter's or untyped value, a histogram's count.
func (m families) value(name string, labels ...string) (float64, bool) {
	mf := m[name]
	if mf == nil {
		return 0, false
	}
	for _, s := range mf.GetMetric() {
		if !hasLabels(s, labels) {
			continue
		}
		switch {
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		case s.Untyped != nil:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func hasLabels(s *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range s.GetLabel() {
			found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}

// summary is the scrape's weather_ series, for a failure message.
func summary(m families) string {
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if len(name) < 8 || name[:8] != "weather_" || m[name].GetType() == dto.MetricType_HISTOGRAM {
			continue
		}
		for _, s := range m[name].GetMetric() {
			fmt.Fprintf(&b, "\n  %s%v = %v", name, s.GetLabel(), s.GetGauge().GetValue()+s.GetCounter().GetValue())
		}
	}
	return b.String()
}

// lagOf is one partition's lag metrics in a consumer's scrape.
type lagOf struct{ end, records, seconds, checkpoint, offset float64 }

func (m families) lag(p int32) lagOf {
	get := func(name string) float64 {
		v, _ := m.value(name, "partition", strconv.Itoa(int(p)))
		return v
	}
	return lagOf{get("weather_consumer_log_end_offset"), get("weather_consumer_lag_records"), get("weather_consumer_lag_seconds"),
		get("weather_consumer_last_checkpoint_timestamp_seconds"), get("weather_consumer_offset")}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// timestampsAt returns the Kafka timestamp of the record at offsets[p] of
// each partition.
func timestampsAt(t *testing.T, topic string, offsets map[int32]int64) map[int32]time.Time {
	t.Helper()
	at := map[int32]kgo.Offset{}
	for p, o := range offsets {
		at[p] = kgo.NewOffset().At(o)
	}
	c := newClient(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[int32]time.Time{}
	for len(out) < len(offsets) {
		fetches := c.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatal(err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if _, ok := out[r.Partition]; !ok && r.Offset == offsets[r.Partition] {
				out[r.Partition] = r.Timestamp
			}
		})
	}
	return out
}

// The consumer's metrics answer "is it behind, and by how much?". Caught up:
// log_end_offset is each partition's end offset, lag_records and lag_seconds
// are 0, the last checkpoint just written. SIGSTOPped while the producer
// writes on: once it runs again, and until it has caught up, lag_records is
// what the files miss and lag_seconds the age of the oldest report they
// miss (from the record's Kafka timestamp), then both are 0 again.
func TestConsumerMetricsSayHowFarBehindItIs(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	began := time.Now()
	produce(t, topic, 20_000, "TXN_MAX_RECORDS=2000")
	// Behind, a batch gathers fetches until it has caught up (no checkpoint
	// in between); small fetches make the catch-up long enough to watch.
	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "CHECKPOINT_INTERVAL=30s",
		"FETCH_MAX_BYTES=16384", "FETCH_MAX_PARTITION_BYTES=4096"}, "0", "1", "2", "3")
	waitCaughtUp(t, dir, topic, allPartitions, 2*time.Minute)
	ends := endOffsets(t, topic)
	caughtUp := func(ends map[int32]int64, since time.Time) func(families) bool {
		return func(m families) bool {
			for _, p := range allPartitions {
				l := m.lag(p)
				if l.end != float64(ends[p]) || l.offset != float64(ends[p]) || l.records != 0 || l.seconds != 0 ||
					l.checkpoint < unix(since) || l.checkpoint > unix(time.Now()) {
					return false
				}
			}
			return true
		}
	}
	scrapeUntil(t, c, fmt.Sprintf("caught up at the end offsets %v, checkpointed since %s", ends, began.Format(time.TimeOnly)), 10*time.Second,
		caughtUp(ends, began))

	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	produce(t, topic, 120_000, "TXN_MAX_RECORDS=2000") // the stream goes on from report 20 000
	time.Sleep(time.Until(stopped.Add(2 * time.Second)))
	ends2 := endOffsets(t, topic)
	firstUnread := timestampsAt(t, topic, ends) // the oldest report the files miss
	if err := c.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()

	// Scrape as fast as it answers until it has caught up. A scrape that
	// shows a partition behind its file never overstates the age of the
	// oldest report the file misses; once that report is fetched, it says
	// that age (before, it is a lower bound: the time since the log end was
	// seen past the file).
	behind, exact := 0, 0
	for deadline := time.Now().Add(time.Minute); ; {
		before := time.Now()
		m := scrapeFamilies(t, c)
		after := time.Now()
		if m == nil {
			t.Fatal("the consumer stopped answering")
		}
		if caughtUp(ends2, resumed)(m) {
			break
		}
		for _, p := range allPartitions {
			l := m.lag(p)
			if l.records == 0 || l.end-l.records != float64(ends[p]) {
				continue // the log end not seen yet, or the file moved on
			}
			behind++
			age := func(at time.Time) float64 { return at.Sub(firstUnread[p]).Seconds() }
			if l.end > float64(ends2[p]) || l.seconds > age(after)+0.5 {
				t.Errorf("partition %d behind: %+v; want the log end at most %d, lag_seconds at most %.1f (the first unread report's age)",
					p, l, ends2[p], age(after))
			}
			if l.seconds >= age(before)-0.5 {
				exact++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up a minute after SIGCONT; last scrape: %s", summary(m))
		}
	}
	if exact == 0 {
		t.Fatalf("of %d partition-scrapes that showed the consumer behind its log, none said the age of the oldest report its file misses", behind)
	}
	if age := resumed.Sub(firstUnread[0]); age < time.Second {
		t.Errorf("the first unread report was only %s old at SIGCONT: the check above proved little", age)
	}
	t.Logf("%d partition-scrapes showed the lag (%d its full age) after %s stopped; caught up at %v",
		behind, exact, resumed.Sub(stopped).Round(time.Millisecond), ends2)
}

// The producer's metrics say what it committed and when, and that it is
// done: with IDLE_AFTER_COUNT it stays up once the topic holds the stream to
// COUNT, done = 1; restarted on that topic it commits nothing and says the
// same at once.
func TestProducerMetricsSayWhatItCommittedAndThatItIsDone(t *testing.T) {
	topic := newTopic(t)
	began := time.Now()
	env := []string{"TOPIC=" + topic, "INTERVAL=0", "COUNT=5000", "TXN_MAX_RECORDS=1000", "IDLE_AFTER_COUNT=true"}
	p := start(t, "producer", env)
	done := func(m families) bool { v, _ := m.value("weather_producer_done"); return v == 1 }
	m := scrapeUntil(t, p, "done", 2*time.Minute, done)
	commits, _ := m.value("weather_producer_transactions_total")
	for name, want := range map[string]float64{
		"weather_producer_last_committed_index":       4999,
		"weather_producer_next_index":                 5000,
		"weather_producer_records_total":              5000,
		"weather_producer_transaction_commit_seconds": commits,
	} {
		if got, ok := m.value(name); !ok || got != want {
			t.Errorf("%s = %v (served: %v), want %v", name, got, ok, want)
		}
	}
	if at, _ := m.value("weather_producer_last_commit_timestamp_seconds"); commits < 5 || at < unix(began) || at > unix(time.Now()) {
		t.Errorf("%v commits, the last at %v: want at least 5 (of 1000 reports), the last since %v", commits, at, unix(began))
	}
	time.Sleep(500 * time.Millisecond)
	if !p.running() {
		t.Fatalf("the producer exited with IDLE_AFTER_COUNT: %d", p.exitCode)
	}
	p.terminate()
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("producer exited %d after SIGTERM, want 0", code)
	}

	again := start(t, "producer", env)
	m = scrapeUntil(t, again, "done", time.Minute, done)
	for name, want := range map[string]float64{
		"weather_producer_last_committed_index":          4999,
		"weather_producer_transactions_total":            0,
		"weather_producer_last_commit_timestamp_seconds": 0,
	} {
		if got, ok := m.value(name); !ok || got != want {
			t.Errorf("restarted: %s = %v (served: %v), want %v", name, got, ok, want)
		}
	}
	again.terminate()
	again.wait(30 * time.Second)
}

// scrapeAllServiceMetrics runs every service binary and returns the names
// of the metric families their /metrics serve (each scrape linted). On a
// fresh topic the debug consumer, the producer (to a COUNT, then idling),
// a stats consumer of every partition and the dashboard each do their
// work — records printed, files at the end offsets, a refresh that saw
// them — before they are scraped. Then each service once more with Kafka
// away (the producer, debug and dashboard started against an address that
// refuses connections, the consumer's broker closed under it), until kprom's
// connect error counter, made on the first error, is served: the "Kafka
// unreachable" alert's metric.
func scrapeAllServiceMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	add := func(m families) {
		for name := range m {
			names[name] = true
		}
	}
	topic, dir := newTopic(t), t.TempDir()
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir}

	// The topic, then the debug consumer: a new group starts at the end.
	if _, err := newAdmin(t).CreateTopic(context.Background(), 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	debug := start(t, "debug", []string{"TOPIC=" + topic, "GROUP=" + topic})
	debug.waitForLog("partitions assigned", time.Minute)
	// A day at a time until it prints: its start offsets have resolved (to
	// the end as it found it), whenever that is; the producer below then
	// continues the stream.
	untilPrinting(t, debug, topic, 0)
	const count = 2000
	producer := start(t, "producer", append(env, "INTERVAL=0", fmt.Sprintf("COUNT=%d", count), "TXN_MAX_RECORDS=500", "IDLE_AFTER_COUNT=true"))
	consumer := start(t, "consumer", env, "0", "1", "2", "3")
	dashboard := start(t, "dashboard", []string{"TOPIC=" + topic, "REFRESH_INTERVAL=200ms"})

	add(scrapeUntil(t, producer, "done", 2*time.Minute, func(m families) bool { v, _ := m.value("weather_producer_done"); return v == 1 }))
	waitCaughtUp(t, dir, topic, allPartitions, 2*time.Minute)
	add(scrapeUntil(t, consumer, "caught up", 30*time.Second, func(m families) bool {
		for _, p := range allPartitions {
			if l := m.lag(p); l.records != 0 || l.end == 0 {
				return false
			}
		}
		return true
	}))
	add(scrapeUntil(t, debug, "printing", 30*time.Second, func(m families) bool {
		v, _ := m.value("weather_debug_records_total")
		return v >= 1 && v == float64(strings.Count(debug.stdout.String(), "\n"))
	}))
	// Two refreshes after the files were at the end: one saw them.
	first, _ := scrapeUntil(t, dashboard, "refreshing", 30*time.Second, func(m families) bool { return m["weather_dashboard_refresh_seconds"] != nil }).
		value("weather_dashboard_refresh_seconds")
	add(scrapeUntil(t, dashboard, "refreshed", 30*time.Second, func(m families) bool {
		v, _ := m.value("weather_dashboard_refresh_seconds")
		return v >= first+2
	}))

	// Kafka away.
	connectErrors := func(svc string) func(families) bool {
		return func(m families) bool { return m["weather_"+svc+"_kafka_connect_errors_total"] != nil }
	}
	refused := refusingAddr(t)
	for _, svc := range []string{"producer", "debug", "dashboard"} {
		p := start(t, svc, []string{"TOPIC=" + topic, "KAFKA_BROKERS=" + refused, "GROUP=" + topic + "-away"})
		add(scrapeUntil(t, p, "counting connect errors", time.Minute, connectErrors(svc)))
		p.terminate()
		p.wait(30 * time.Second)
	}
	away, err := embeddedkafka.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "away"))
	if err != nil {
		t.Fatal(err)
	}
	closeAway := sync.OnceFunc(away.Close)
	defer closeAway()
	c := start(t, "consumer", []string{"KAFKA_BROKERS=" + away.ListenAddrs()[0], "TOPIC=away", "DATA_DIR=" + t.TempDir()}, "0", "1", "2", "3")
	c.waitForLog("msg=consuming", time.Minute)
	closeAway()
	add(scrapeUntil(t, c, "counting connect errors", time.Minute, connectErrors("consumer")))
	return names
}

// refusingAddr is a loopback address where connections are refused.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// The helper the chart's test relies on finds what every service serves:
// its own metrics, the build info, kprom's (connect errors included), Go's.
func TestScrapeAllServiceMetricsServesEveryServicesMetrics(t *testing.T) {
	names := scrapeAllServiceMetrics(t)
	for _, want := range []string{
		"weather_build_info", "go_goroutines", "process_cpu_seconds_total",
		"weather_producer_done", "weather_producer_last_committed_index", "weather_producer_transaction_commit_seconds",
		"weather_consumer_lag_records", "weather_consumer_lag_seconds", "weather_consumer_log_end_offset",
		"weather_consumer_last_checkpoint_timestamp_seconds", "weather_consumer_records_skipped_total",
		"weather_debug_records_total", "weather_debug_records_skipped_total",
		"weather_dashboard_refresh_seconds", "weather_dashboard_event_streams",
		"weather_producer_kafka_connect_errors_total", "weather_consumer_kafka_connect_errors_total",
		"weather_debug_kafka_connect_errors_total", "weather_dashboard_kafka_connect_errors_total",
		"weather_consumer_kafka_fetch_bytes_total", "weather_producer_kafka_produce_bytes_total",
	} {
		if !names[want] {
			t.Errorf("no %s in the services' scrapes", want)
		}
	}
	t.Logf("%d metric families served", len(names))
}
