package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The Streams app's output as StreamsStats prints it, and the same stats as
// a stats consumer writes them.
const (
	streamsOut = `{"first_ms": 1700000000000, "last_ms": 1700000002000, "committed_ms": 1700000002100, "processed": 3, "skipped": 1}
{"partition": 0, "station": "StationB", "count": 2, "sum": 60.300000000000004, "start": "2000-01-01", "end": "2000-01-02"}
{"partition": 1, "station": "StationJ", "count": 1, "sum": 4.5E7, "start": "2000-01-01", "end": "2000-01-01"}
`
	consumerFile0 = `{
  "offset": 3,
  "log": {"topic": "t", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 0},
  "StationB": {"count": 2, "sum": 60.300000000000004, "avg": 30.150000000000002, "start": "2000-01-01", "end": "2000-01-02"}
}
`
	consumerFile1 = `{
  "offset": 2,
  "log": {"topic": "t", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 1},
  "StationJ": {"count": 1, "sum": 45000000, "avg": 45000000, "start": "2000-01-01", "end": "2000-01-01"}
}
`
)

func writeConsumerFiles(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for p, f := range files {
		if err := os.WriteFile(filepath.Join(dir, "partition-"+strconv.Itoa(p)+".json"), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStreamsEqualsConsumerFiles(t *testing.T) {
	sum, run, err := parseStreamsOutput(streamsOut)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Processed != 3 || run.skipped != 1 || sum.LastMs-sum.FirstMs != 2000 {
		t.Fatalf("summary %+v, skipped %d", sum, run.skipped)
	}
	b := &bench{}
	if err := b.streamsEqualsConsumerFiles(run, writeConsumerFiles(t, consumerFile0, consumerFile1)); err != nil {
		t.Fatalf("equal stats: %v", err)
	}

	// A sum off in its last bit, an end, a station only one side has.
	other := strings.NewReplacer(`60.300000000000004`, `60.3`, `"end": "2000-01-02"`, `"end": "2000-01-03"`).Replace(consumerFile0)
	other = strings.Replace(other, "\n}", `,
  "StationD": {"count": 1, "sum": 1, "avg": 1, "start": "2000-01-01", "end": "2000-01-01"}
}`, 1)
	err = b.streamsEqualsConsumerFiles(run, writeConsumerFiles(t, other, consumerFile1))
	if err == nil {
		t.Fatal("different stats: no error")
	}
	for _, want := range []string{
		"differ in 2 stations",
		"partition 0 StationB: Kafka Streams count 2 sum 60.300000000000004 start 2000-01-01 end 2000-01-02, consumer count 2 sum 60.3 start 2000-01-01 end 2000-01-03",
		"partition 0 StationD: only in the consumer's files",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if err := b.streamsEqualsConsumerFiles(run, writeConsumerFiles(t, consumerFile0)); err == nil ||
		!strings.Contains(err.Error(), "partition 1 StationJ: only in Kafka Streams") {
		t.Errorf("a partition file missing: error %v", err)
	}
}

func TestParseStreamsOutputBad(t *testing.T) {
	for _, out := range []string{
		"",
		`{"first_ms": 0, "last_ms": 0, "processed": 0, "skipped": 0}`,
		strings.Replace(streamsOut, `"partition": 1, `, "", 1),
		streamsOut + strings.SplitAfter(streamsOut, "\n")[1],
	} {
		if _, _, err := parseStreamsOutput(out); err == nil {
			t.Errorf("no error for output %q", out)
		}
	}
}

// TestStreamsTry runs the Kafka Streams app on an existing topic of
// BENCH_STREAMS_RECORDS reports on the broker at KAFKA_BROKERS and, given
// BENCH_STREAMS_CONSUMER_DIR (a stats consumer's files of the same topic,
// caught up), checks that both computed the same:
//
//	cd hack/bench && BENCH_STREAMS_TRY=1 KAFKA_BROKERS=127.0.0.1:9092 BENCH_STREAMS_TOPIC=t \
//	  BENCH_STREAMS_RECORDS=2000000 BENCH_STREAMS_CONSUMER_DIR=/tmp/files GOWORK=off go test -run TestStreamsTry -v .
func TestStreamsTry(t *testing.T) {
	brokers, topic := os.Getenv("KAFKA_BROKERS"), os.Getenv("BENCH_STREAMS_TOPIC")
	if os.Getenv("BENCH_STREAMS_TRY") != "1" || brokers == "" || topic == "" {
		t.Skip("set BENCH_STREAMS_TRY=1, KAFKA_BROKERS, BENCH_STREAMS_TOPIC and BENCH_STREAMS_RECORDS to run the Streams app")
	}
	records, err := strconv.ParseInt(os.Getenv("BENCH_STREAMS_RECORDS"), 10, 64)
	if err != nil {
		t.Fatalf("BENCH_STREAMS_RECORDS: %v", err)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{repo: repo, runDir: t.TempDir(), records: records, brokers: brokers, children: map[*child]bool{}, start: time.Now()}
	cl, err := b.client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	b.adm = kadm.NewClient(cl)
	defer b.killAll()

	run, err := b.kafkaStreams(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.0f reports/s, wall %s (%.0f reports/s), CPU %.1f s, peak RSS %.0f MiB, %d skipped, %d partitions",
		run.perSec, run.wall.Round(time.Millisecond), run.wallRate, run.cpu.Seconds(), mib(run.rss), run.skipped, len(run.stations))
	if dir := os.Getenv("BENCH_STREAMS_CONSUMER_DIR"); dir != "" {
		if err := b.streamsEqualsConsumerFiles(run, dir); err != nil {
			t.Fatal(err)
		}
		t.Logf("the same stats as the stats consumer's files in %s", dir)
	}
}
