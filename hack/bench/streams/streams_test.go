package streams

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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

func TestEqualsConsumerFiles(t *testing.T) {
	sum, run, err := parseOutput(streamsOut)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Processed != 3 || run.Skipped != 1 || sum.LastMs-sum.FirstMs != 2000 {
		t.Fatalf("summary %+v, skipped %d", sum, run.Skipped)
	}
	if err := equalsConsumerFiles(run, writeConsumerFiles(t, consumerFile0, consumerFile1)); err != nil {
		t.Fatalf("equal stats: %v", err)
	}

	// A sum off in its last bit, an end, a station only one side has.
	other := strings.NewReplacer(`60.300000000000004`, `60.3`, `"end": "2000-01-02"`, `"end": "2000-01-03"`).Replace(consumerFile0)
	other = strings.Replace(other, "\n}", `,
  "StationD": {"count": 1, "sum": 1, "avg": 1, "start": "2000-01-01", "end": "2000-01-01"}
}`, 1)
	err = equalsConsumerFiles(run, writeConsumerFiles(t, other, consumerFile1))
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
	if err := equalsConsumerFiles(run, writeConsumerFiles(t, consumerFile0)); err == nil ||
		!strings.Contains(err.Error(), "partition 1 StationJ: only in Kafka Streams") {
		t.Errorf("a partition file missing: error %v", err)
	}
}

func TestParseOutputBad(t *testing.T) {
	for _, out := range []string{
		"",
		`{"first_ms": 0, "last_ms": 0, "processed": 0, "skipped": 0}`,
		strings.Replace(streamsOut, `"partition": 1, `, "", 1),
		streamsOut + strings.SplitAfter(streamsOut, "\n")[1],
	} {
		if _, _, err := parseOutput(out); err == nil {
			t.Errorf("no error for output %q", out)
		}
	}
}
