package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The topic is the record the stats are rebuilt from once their disk is
// lost: the producer creates it keeping every record (retention.ms=-1), or
// for TOPIC_RETENTION_MS. A topic that exists keeps its retention; a finite
// one is warned about, and the producer goes on.
func TestProducerCreatesTheTopicKeepingTheWholeStream(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"by default", nil, "-1"},
		{"TOPIC_RETENTION_MS=3600000", []string{"TOPIC_RETENTION_MS=3600000"}, "3600000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topic := newTopic(t)
			produce(t, topic, 100, tt.env...)
			if got := retentionMs(t, topic); got != tt.want {
				t.Errorf("retention.ms of the created topic = %s, want %s", got, tt.want)
			}
		})
	}

	t.Run("an existing topic's finite retention", func(t *testing.T) {
		topic := newTopic(t)
		produce(t, topic, 100, "TOPIC_RETENTION_MS=3600000")
		p := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=0", "COUNT=200"}) // TOPIC_RETENTION_MS=-1
		if code := p.wait(3 * time.Minute); code != 0 {
			t.Fatalf("producer on the existing topic exited %d", code)
		}
		if want := "records older than 1h0m0s are deleted: the stats can no longer be rebuilt from the topic after that"; strings.Count(p.stderr.String(), want) != 1 {
			t.Errorf("producer log has not one %q:\n%s", want, tail(p.stderr.String(), 20))
		}
		if got := retentionMs(t, topic); got != "3600000" {
			t.Errorf("retention.ms = %s, want the topic's 3600000 kept", got)
		}
	})
}

// retentionMs is topic's retention.ms as the broker describes it.
func retentionMs(t *testing.T, topic string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := newAdmin(t).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.Value != nil {
			return *c.Value
		}
	}
	t.Fatalf("%s: no retention.ms in %+v", topic, rc.Configs)
	return ""
}

// withDeletedStart makes a topic of the stream whose fullest partition lost
// its first half (DeleteRecords, as retention would delete it), and returns
// that partition and its new log start.
func withDeletedStart(t *testing.T) (topic string, p int32, logStart int64) {
	t.Helper()
	topic = newTopic(t)
	produce(t, topic, 4000)
	for q, end := range endOffsets(t, topic) {
		if end/2 > logStart {
			p, logStart = q, end/2
		}
	}
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: topic, Partition: p, At: logStart})
	if resp, err := newAdmin(t).DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	return topic, p, logStart
}

// A consumer that lost its disk (no checkpoint) on a partition whose log no
// longer starts at 0 would count a part of the stream as if it were all of
// it: it exits non-zero at once with one line naming the partition, the log
// start, what is lost and both ways out, and writes no checkpoint.
func TestConsumerWithoutACheckpointRefusesALogThatNoLongerStartsAtZero(t *testing.T) {
	topic, p, logStart := withDeletedStart(t)
	dir := t.TempDir()
	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir}, "0", "1", "2", "3")
	if code := c.wait(time.Minute); code != 1 {
		t.Fatalf("consumer exited %d, want 1", code)
	}
	want := fmt.Sprintf("consumer: partition %d has no checkpoint and no snapshot, and its log starts at offset %d, not 0: records 0-%d are deleted (retention or DeleteRecords), "+
		"so stats counted from here would miss them. Restore %s, or set START_AT_LOG_START=true to count from offset %d on",
		p, logStart, logStart-1, partitionFile(dir, p), logStart)
	if lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n"); lines[len(lines)-1] != want {
		t.Errorf("last line:\n%s\nwant:\n%s", lines[len(lines)-1], want)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "partition-*.json")); len(files) > 0 {
		t.Errorf("a refused start wrote %v", files)
	}
}

// Told to (START_AT_LOG_START=true), the consumer counts such a partition
// from its log start, warning which offsets are not counted: its file equals
// a recount of the log from there, and the other partitions' a recount from 0.
func TestConsumerWithoutACheckpointStartsAtTheLogStartWhenTold(t *testing.T) {
	topic, p, logStart := withDeletedStart(t)
	dir := t.TempDir()
	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "START_AT_LOG_START=true"}, "0", "1", "2", "3")
	waitCaughtUp(t, dir, topic, allPartitions, 2*time.Minute)
	c.terminate()
	if code := c.wait(30 * time.Second); code != 0 {
		t.Fatalf("consumer exited %d after SIGTERM, want 0", code)
	}
	if want := fmt.Sprintf("offsets 0-%d are deleted and not counted in the stats", logStart-1); !strings.Contains(c.stderr.String(), want) {
		t.Errorf("no warning %q:\n%s", want, tail(c.stderr.String(), 20))
	}
	for _, q := range allPartitions {
		from := int64(0)
		if q == p {
			from = logStart
		}
		f, err := readFile(t, partitionFile(dir, q))
		if err != nil {
			t.Fatal(err)
		}
		equalStations(t, fmt.Sprintf("partition %d from offset %d", q, from), f, recount(t, topic, q, from))
	}
}
